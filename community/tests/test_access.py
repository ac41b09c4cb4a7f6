"""Who reads and moderates which board (community/selectors.py, first section)."""

from django.utils import timezone

from community import selectors
from community.models import Board
from groups.models import Group, GroupMembership
from members.tests.factories import GuardianFactory, UserFactory


def _readable(user) -> set[int]:
    return set(selectors.boards_readable_by(user).values_list("pk", flat=True))


def test_families_read_their_schools_board_the_alliance_board_and_their_groups(board_world):
    w = board_world
    assert _readable(w.mum.user) == {w.board.pk, w.alliance_board.pk, w.group_board.pk}
    # dad's child is at the school, but he is not in the group
    assert _readable(w.dad.user) == {w.board.pk, w.alliance_board.pk}
    assert _readable(w.outsider.user) == {w.other_board.pk}


def test_staff_read_what_their_units_hold_and_moderate_only_their_own(board_world):
    w = board_world
    assert _readable(w.coordinator) == {w.board.pk, w.alliance_board.pk, w.group_board.pk}
    assert selectors.can_moderate(w.coordinator, w.board)
    assert not selectors.can_moderate(w.coordinator, w.other_board)
    assert not selectors.can_moderate(w.other_coordinator, w.board)
    # the instructor facilitates the group: moderates there and nowhere else
    assert selectors.can_moderate(w.instructor, w.group_board)
    assert not selectors.can_moderate(w.instructor, w.board)
    assert set(selectors.boards_moderated_by(w.instructor).values_list("pk", flat=True)) == {
        w.group_board.pk
    }
    assert selectors.staff_role_on(w.instructor, w.board) == "instructor"
    assert selectors.staff_role_on(w.instructor, w.group_board) == "facilitator"
    assert selectors.can_moderate(w.alliance_coordinator, w.alliance_board)
    assert not selectors.can_moderate(w.coordinator, w.alliance_board)


def test_a_family_that_leaves_reads_nothing_of_the_group_and_dissolving_never_widens(
    board_world,
):
    w = board_world
    dad_in = GroupMembership.objects.create(
        group=w.group, family=w.dad.family, status=GroupMembership.Status.ACTIVE
    )
    assert w.group_board.pk in _readable(w.dad.user)
    dad_in.status = GroupMembership.Status.LEFT
    dad_in.save()
    assert w.group_board.pk not in _readable(w.dad.user)
    # dissolved: members at the time keep the archived board, nobody else gains it
    GroupMembership.objects.filter(group=w.group, status="active").update(status="ended")
    Group.objects.filter(pk=w.group.pk).update(status="dissolved", dissolved_at=timezone.now())
    Board.objects.filter(pk=w.group_board.pk).update(is_archived=True)
    assert w.group_board.pk in _readable(w.mum.user)
    assert w.group_board.pk in _readable(w.instructor)
    for reader in (w.dad.user, w.coordinator, w.district_admin, w.outsider.user):
        assert w.group_board.pk not in _readable(reader)
    stranger = GuardianFactory(user=UserFactory(phone_verified=True))
    assert _readable(stranger.user) == set()
