import pytest
from django.db.models import Value

from members.models import Region
from members.privacy import MaskPhone, mask_phone

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("phone", ["13812341234", "0574-88881234", "8881234"])
def test_the_database_masks_phones_exactly_as_python_does(phone):
    # given a row to evaluate the expression on
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)

    # when the export's SQL masks the number
    masked = Region.objects.annotate(m=MaskPhone(Value(phone))).values_list("m", flat=True)[0]

    # then it is what the Python rosters show, never the whole number
    assert masked == mask_phone(phone)
    assert phone not in masked


def test_short_or_empty_numbers_are_never_shown():
    Region.objects.create(name="任意", kind=Region.Kind.DISTRICT)
    rows = Region.objects.annotate(short=MaskPhone(Value("12345")), empty=MaskPhone(Value("")))
    short, empty = rows.values_list("short", "empty")[0]
    assert "12345" not in short and set(short) == {"*"}
    assert empty == ""
