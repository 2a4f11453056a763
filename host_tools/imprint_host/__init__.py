"""imprint host tools: virtual boards, deployment, factory provisioning and the services a device meets."""

__version__ = "0.1.0"
