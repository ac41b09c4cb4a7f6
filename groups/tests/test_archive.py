"""Leaving and dissolving never expose anything: the board's readers follow the
memberships (community archives a dissolved group's board on groups.signals)."""

from community.selectors import boards_readable_by
from groups import services


def test_dissolved_group_board_stays_readable_only_to_former_members_and_facilitator(world):
    group = world.group
    services.group_join(user=world.dad.user, group_id=group.pk)
    services.group_leave(user=world.dad.user, group_id=group.pk)
    services.group_dissolve(user=world.coordinator, group_id=group.pk)
    world.group_board.refresh_from_db()
    assert world.group_board.is_archived
    readable = boards_readable_by
    assert readable(world.mum.user).filter(pk=world.group_board.pk).exists()
    assert readable(world.instructor).filter(pk=world.group_board.pk).exists()
    assert not readable(world.dad.user).filter(pk=world.group_board.pk).exists()
    assert not readable(world.outsider.user).filter(pk=world.group_board.pk).exists()
