"""Field paths in the spelling of a JSON request.

The services name an invalid field by its proto name (``return_url``,
``contents[0].body``). A JSON caller sent lowerCamelCase (``returnUrl``), which
protobuf's JSON mapping also accepts besides the proto name. The JSON gateway
renames each path's fields the way the request body spelled them: the JSON name,
unless the body used the proto name. Segments that are not fields (map keys, a
position inside a text field) stay as they are. Pure: descriptors and the parsed
body in, a path out.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def as_spelled(path: str, message: Descriptor, body: Any) -> str:
    """``path`` (proto names) with each field spelled as ``body`` (the request's
    parsed JSON, of type ``message``) spelled it."""
    segments = path.split(".")
    spelled: list[str] = []
    descriptor: Descriptor | None = message
    value: Any = body
    i = 0
    while i < len(segments):
        found = _SEGMENT.fullmatch(segments[i])
        field = descriptor.fields_by_name.get(found.group(1)) if found and descriptor else None
        if found is None or field is None:
            spelled.extend(segments[i:])  # not a field of the message: as the service named it
            break
        given = value if isinstance(value, dict) else {}
        name = (
            field.name if field.name in given and field.json_name not in given else field.json_name
        )
        spelled.append(name + found.group(2))
        value = _index(given.get(name), found.group(2))
        descriptor = field.message_type
        if descriptor is not None and descriptor.GetOptions().map_entry:
            if i + 1 < len(segments):  # the map's key, then the value's fields
                spelled.append(segments[i + 1])
                value = value.get(segments[i + 1]) if isinstance(value, dict) else None
                i += 1
            entry_value: FieldDescriptor = descriptor.fields_by_name["value"]
            descriptor = entry_value.message_type
        i += 1
    return ".".join(spelled)


def _index(value: Any, indexes: str) -> Any:
    for position in re.findall(r"\d+", indexes):
        at = int(position)
        value = value[at] if isinstance(value, list) and at < len(value) else None
    return value


def respell_message(message: str, renamed: dict[str, str]) -> str:
    """``message`` with each whole field path in ``renamed`` replaced by its new spelling
    ("invalid request: check return_url" -> "... check returnUrl")."""
    for old, new in sorted(renamed.items(), key=lambda item: -len(item[0])):
        if old != new:
            message = re.sub(rf"(?<![\w.\[]){re.escape(old)}(?![\w\[])", new, message)
    return message
