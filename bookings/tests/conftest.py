import pytest

from members.tests.factories import ChildFactory, GuardianFactory


def make_family(children: int = 0, guardians: int = 1):
    """A family with ``guardians`` guardians (the first is the booker) and children."""
    first = GuardianFactory()
    family = first.family
    others = [GuardianFactory(family=family) for _ in range(guardians - 1)]
    kids = [ChildFactory(family=family) for _ in range(children)]
    return family, [first, *others], kids


@pytest.fixture
def family_factory():
    return make_family
