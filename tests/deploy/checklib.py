"""What the offline deploy checks (validate_k8s.py, check_prometheus.py) share: the failure a
check raises, the refusal of a broken copy (each check must be able to fail) and the verdict."""


class Invalid(Exception):
    pass


def expect_refused(what, check):
    """check() must raise Invalid on a broken copy (so it can fail at all)."""
    try:
        check()
    except Invalid as e:
        print(f"ok   refused {what}: {str(e).splitlines()[0]}")
        return
    raise Invalid(f"expected {what} to be refused, actual accepted")


def verdict(name, checks):
    """Runs checks(); prints `NAME: PASS` or `NAME: FAIL: why`; returns the exit code."""
    try:
        checks()
    except Invalid as e:
        print(f"{name}: FAIL: {e}")
        return 1
    print(f"{name}: PASS")
    return 0
