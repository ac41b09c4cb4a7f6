"""generate_scale_data's boards and buddy groups (reports.scale.community_generate):
the shape's counts, the counters as the services keep them, the group limits, the
skew the bench reads (a big board ten times a smaller one), and no secrets."""

from django.conf import settings
from django.core.management import call_command
from django.db.models import Count, F, Max, Min, Q

from community.models import Board, Post, Thread
from community.selectors import board_measures
from groups.models import Group, GroupMembership, GroupQuota
from members.models import Child, Guardian, RoleAssignment
from reports import scale


def test_small_preset_has_boards_threads_posts_and_groups(db):
    # when
    call_command("generate_scale_data", "--preset", "small", "--seed", "7")

    # then the shape's counts
    p, shape = scale.PRESETS["small"], scale.COMMUNITY_SHAPES["small"]
    assert Group.objects.count() == shape.groups
    assert Board.objects.count() == shape.boards
    assert Board.objects.filter(kind="school").count() == p.parent_schools
    assert Post.objects.count() == shape.posts
    assert Thread.objects.count() == shape.posts // 10
    assert Post.objects.filter(is_opening=True).count() == Thread.objects.count()

    # every group board is its group's, on its school's unit
    assert not Board.objects.filter(kind="group").exclude(
        parent_school=F("group__parent_school"), unit=F("group__parent_school__host_unit")
    )
    assert not Board.objects.filter(kind="school").exclude(unit=F("parent_school__host_unit"))
    # facilitators are instructors of the school's unit
    for group in Group.objects.select_related("parent_school")[:10]:
        assert RoleAssignment.objects.filter(
            user=group.facilitator_id, role="instructor", unit=group.parent_school.host_unit_id
        ).exists()

    # memberships: member_count is the active members, within max_size; nobody in
    # more groups of a kind than the limit, and the quota rows say the same
    counted = Group.objects.annotate(n=Count("memberships", filter=Q(memberships__status="active")))
    assert not counted.exclude(member_count=F("n")).exists()
    assert not Group.objects.filter(member_count__gt=F("max_size")).exists()
    assert Group.objects.filter(member_count__gte=4).count() > shape.groups // 2
    per_kind = (
        GroupMembership.objects.values("family", "group__kind")
        .annotate(n=Count("pk"))
        .aggregate(m=Max("n"))["m"]
    )
    assert per_kind <= settings.GROUPS_MAX_PER_KIND
    assert not GroupMembership.objects.filter(group__kind="family", child__isnull=False).exists()
    study = GroupMembership.objects.filter(group__kind="study", status="active")
    assert not study.filter(child__isnull=True).exists()
    assert not study.exclude(child__family=F("family")).exists()
    # a dissolved group: members ENDED, no place or quota held, its board archived
    dissolved = Group.objects.filter(status="dissolved")
    assert dissolved.count() == shape.groups // shape.dissolved_every
    assert not dissolved.exclude(member_count=0).exists()
    assert not dissolved.filter(dissolved_at__isnull=True).exists()
    assert not GroupMembership.objects.filter(group__in=dissolved).exclude(status="ended").exists()
    assert not GroupMembership.objects.filter(group__status="active", status="ended").exists()
    archived = Board.objects.filter(kind="group", group__status="dissolved")
    assert archived.exists()
    assert not archived.exclude(is_archived=True).exists()
    assert not Board.objects.filter(is_archived=True).exclude(group__status="dissolved").exists()
    quotas = dict(GroupQuota.objects.values_list("key", "used"))
    assert sum(quotas.values()) == GroupMembership.objects.filter(status="active").count()
    m = study.first()
    assert quotas[f"child:{m.child_id}:study"] == study.filter(child=m.child).count()

    # the thread counters as community.services keeps them
    threads = Thread.objects.annotate(
        replies=Count("posts", filter=Q(posts__is_opening=False, posts__status="published")),
        latest=Max("posts__published_at"),
        first_staff=Min("posts__published_at", filter=~Q(posts__author_role="family")),
    )
    assert not threads.exclude(reply_count=F("replies")).exists()
    assert not threads.filter(replies__gt=0).exclude(last_activity_at=F("latest")).exists()
    staff_answered = threads.filter(first_staff__isnull=False)
    assert staff_answered.exists()
    assert not staff_answered.exclude(first_staff_reply_at=F("first_staff")).exists()
    assert not threads.filter(first_staff__isnull=True, first_staff_reply_at__isnull=False).exists()
    accepted = Thread.objects.filter(accepted_post__isnull=False)
    assert accepted.exists()
    assert not accepted.exclude(kind="question").exists()
    assert not accepted.exclude(accepted_post__thread=F("pk")).exists()
    assert not accepted.exclude(accepted_post__author_role__in=Post.STAFF_ROLES).exists()
    # held threads wait with their opening post and no reply
    held = Thread.objects.filter(status="held")
    assert held.exists() and not held.filter(published_at__isnull=False).exists()
    assert not Post.objects.filter(thread__status="held", is_opening=False).exists()

    # the bench's skew: the big board has ten times the threads of the second
    schools = list(Board.objects.filter(kind="school").order_by("pk")[:2])
    big, medium = (Thread.objects.filter(board=b).count() for b in schools)
    assert big == 10 * medium
    longest = Thread.objects.filter(board=schools[0]).aggregate(m=Max("reply_count"))["m"]
    elsewhere = Thread.objects.exclude(board=schools[0]).aggregate(m=Max("reply_count"))["m"]
    assert longest > elsewhere

    # snapshots only: the school's name and a nickname, never a phone or a child's name
    post = Post.objects.filter(is_opening=True).select_related("board__parent_school").first()
    assert post.author_school == post.board.parent_school.name
    phones = set(Guardian.objects.values_list("phone", flat=True)[:200])
    nicknames = set(Child.objects.values_list("nickname", flat=True)[:200])
    for name, body in Post.objects.values_list("author_name", "body")[:500]:
        assert name not in phones and name not in nicknames
        assert not any(phone in body for phone in phones)

    # the measures read the generated boards
    measures = board_measures(parent_school_ids=[schools[0].parent_school_id])
    first = measures[schools[0].parent_school_id]
    assert first.asked > 0 and 0 < first.answered <= first.asked
    assert first.median_minutes is not None

    # and a second run adds nothing
    call_command("generate_scale_data", "--preset", "small", "--seed", "7")
    assert Post.objects.count() == shape.posts
    assert scale.community_add(preset_name="small", seed=7, log=lambda _: None) == 0
