"""The catalogue's facet values as HTML, built in Python: a district's catalogue has
hundreds of values (a school each), and the template language's loop, with a
variable lookup and a localised number per value, cost more than the rest of the
page together (measured with pyinstrument, bench/NOTES.md). The markup is the one
the templates wrote before (a loop in _catalogue_body.html and a recursive
include for the region tree)."""

from html import escape  # what django.utils.html.escape calls, without its lazy wrapper

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def facet_options(values) -> str:
    """One <option> per facet value, 「label（count）」, the chosen one selected."""
    return mark_safe(
        "".join(
            f'<option value="{escape(str(fv.value))}"{" selected" if fv.selected else ""}>'
            f"{escape(str(fv.label))}（{int(fv.count)}）</option>"
            for fv in values
        )
    )


@register.simple_tag
def region_tree(nodes) -> str:
    """The region facet's radio buttons, one nested list per level of the tree."""
    return mark_safe("".join(_region_items(nodes)))


def _region_items(nodes):
    for fv in nodes:
        value = escape(str(fv.value))
        yield (
            '<li><span class="checkbox-row">'
            f'<input type="radio" name="region" id="id_region_{value}" value="{value}"'
            f"{' checked' if fv.selected else ''}>"
            f'<label for="id_region_{value}">{escape(str(fv.label))}（{int(fv.count)}）</label>'
            "</span>"
        )
        if fv.children:
            yield "<ul>"
            yield from _region_items(fv.children)
            yield "</ul>"
        yield "</li>"
