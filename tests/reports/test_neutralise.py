import pytest

from accessgroups.reports.exports import neutralise


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        # Already quoted: one more, so dropping one leading quote gives the value back.
        ("'=1", "''=1"),
        ("alice", "alice"),
        ("a=b", "a=b"),
        ("", ""),
        (-1, -1),
        (None, None),
    ],
)
def test_neutralise(value, shown):
    assert neutralise(value) == shown
