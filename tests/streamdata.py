"""What Wagtail's admin posts for a StreamField, built from raw stream data and the field's
block: the names the browser side of StreamField sends (<prefix>-count, <prefix>-<i>-type,
-id, -order, -deleted, -value-<child>...), so that admin tests save through the real views."""

from wagtail import blocks


def post_data(block, prefix, value):
    """{name: value} a browser would post for `value` (raw data) of `block` at `prefix`."""
    data = {}
    _flatten(block, prefix, value, data)
    return data


def _flatten(block, prefix, value, data):
    if isinstance(block, blocks.StreamBlock):
        items = list(value or [])
        data[f"{prefix}-count"] = str(len(items))
        for i, item in enumerate(items):
            child = f"{prefix}-{i}"
            data.update({f"{child}-type": item["type"], f"{child}-deleted": "",
                         f"{child}-order": str(i), f"{child}-id": item.get("id") or ""})
            _flatten(block.child_blocks[item["type"]], f"{child}-value", item["value"], data)
    elif isinstance(block, blocks.ListBlock):
        items = list(value or [])
        data[f"{prefix}-count"] = str(len(items))
        for i, item in enumerate(items):
            child = f"{prefix}-{i}"
            data.update({f"{child}-deleted": "", f"{child}-order": str(i), f"{child}-id": ""})
            _flatten(block.child_block, f"{child}-value", item, data)
    elif isinstance(block, blocks.StructBlock):
        for name, child in block.child_blocks.items():
            _flatten(child, f"{prefix}-{name}", (value or {}).get(name), data)
    elif isinstance(block, blocks.BooleanBlock):
        if value:
            data[prefix] = "on"
    elif value is None:
        data[prefix] = ""
    elif isinstance(value, list | tuple):
        data[prefix] = [str(v) for v in value]
    else:
        data[prefix] = str(value)
