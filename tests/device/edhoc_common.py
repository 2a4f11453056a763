# Helpers the EDHOC trace tests share (not a test module).
from vectors import get


def trust_from(table):
    # trust(id_cred) -> CRED bytes for known kids / x5t hashes, else raise
    def trust(id_cred):
        for k in (4, 34):
            if k in id_cred:
                ref = id_cred[k]
                key = ref[1] if k == 34 else ref
                if key in table:
                    return table[key]
        raise ValueError("unknown credential")
    return trust


def same(obj, table, names):
    # obj's intermediate values equal the trace's (attribute = lower-case RFC label)
    for n in names.split():
        assert getattr(obj, n.lower()) == get(table, n), n
