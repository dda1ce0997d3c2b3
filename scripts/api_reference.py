"""Write docs/api-reference.md from the protos and their comments.

``python -m scripts.api_reference`` (``--check`` exits 1 if the file is not current).
"""

from __future__ import annotations

import sys

from google.protobuf import descriptor_pb2

from scripts.proto_docs import ROOT, ProtoSet, load

OUT = ROOT / "docs" / "api-reference.md"
F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    F.TYPE_DOUBLE: "double",
    F.TYPE_FLOAT: "float",
    F.TYPE_INT64: "int64",
    F.TYPE_UINT64: "uint64",
    F.TYPE_INT32: "int32",
    F.TYPE_FIXED64: "fixed64",
    F.TYPE_FIXED32: "fixed32",
    F.TYPE_BOOL: "bool",
    F.TYPE_STRING: "string",
    F.TYPE_BYTES: "bytes",
    F.TYPE_UINT32: "uint32",
    F.TYPE_SFIXED32: "sfixed32",
    F.TYPE_SFIXED64: "sfixed64",
    F.TYPE_SINT32: "sint32",
    F.TYPE_SINT64: "sint64",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def _anchor(full_name: str) -> str:
    return full_name.lower().replace(".", "")


def _type(field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, tuple[str, str]]) -> str:
    if field.type_name:
        name = field.type_name.lstrip(".")
        if name in maps:
            key, value = maps[name]
            return f"map<{key}, {value}>"
        shown = (
            f"[{name.rpartition('.')[2]}](#{_anchor(name)})" if name.startswith("gaap.") else name
        )
    else:
        shown = _SCALARS[field.type]
    if field.label == F.LABEL_REPEATED:
        return f"repeated {shown}"
    if field.proto3_optional:
        return f"optional {shown}"
    return shown


def render(protos: ProtoSet) -> str:
    notes = protos.comments
    lines = [
        "# API reference",
        "",
        "Generated from the proto comments by `python -m scripts.api_reference`; a test keeps",
        "it current. Every method is gRPC (`authorization: Bearer <token>` metadata) and",
        "JSON over HTTP: `POST /<package>.<Service>/<Method>` on the service's HTTP port with",
        "`Content-Type: application/json` (the Connect protocol; see docs/openapi/).",
        "",
    ]
    for file in protos.files:
        package = file.package
        lines += [f"## `{package}` ({file.name})", ""]
        maps: dict[str, tuple[str, str]] = {}
        for msg in file.message_type:
            for nested in msg.nested_type:
                if nested.options.map_entry:
                    key, value = nested.field
                    maps[f"{package}.{msg.name}.{nested.name}"] = (
                        _SCALARS.get(key.type, "string"),
                        _type(value, {}),
                    )
        for service in file.service:
            full = f"{package}.{service.name}"
            lines += [f"### {service.name}", "", notes.get(full, ""), ""]
            lines += ["| method | request | response | description |", "|---|---|---|---|"]
            for method in service.method:
                request, response = method.input_type.lstrip("."), method.output_type.lstrip(".")
                lines.append(
                    f"| `{method.name}` | [{request.rpartition('.')[2]}](#{_anchor(request)}) "
                    f"| [{response.rpartition('.')[2]}](#{_anchor(response)}) "
                    f"| {_cell(notes.get(f'{full}.{method.name}', ''))} |"
                )
            lines.append("")
        for msg in file.message_type:
            full = f"{package}.{msg.name}"
            lines += [f'<a id="{_anchor(full)}"></a>', f"### {full}", ""]
            if notes.get(full):
                lines += [notes[full], ""]
            if msg.field:
                lines += ["| field | type | description |", "|---|---|---|"]
                for field in msg.field:
                    lines.append(
                        f"| `{field.name}` | {_type(field, maps)} "
                        f"| {_cell(notes.get(f'{full}.{field.name}', ''))} |"
                    )
            else:
                lines.append("(no fields)")
            lines.append("")
        for enum in file.enum_type:
            full = f"{package}.{enum.name}"
            lines += [f'<a id="{_anchor(full)}"></a>', f"### {full} (enum)", ""]
            if notes.get(full):
                lines += [notes[full], ""]
            lines += ["| value | number | description |", "|---|---|---|"]
            for number in enum.value:
                lines.append(
                    f"| `{number.name}` | {number.number} "
                    f"| {_cell(notes.get(f'{full}.{number.name}', ''))} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render(load())
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            sys.stderr.write(f"{OUT} is not current: run python -m scripts.api_reference\n")
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
