"""Plain-text rendering of Block Kit, so the demo can print what a person would see in Slack."""

from __future__ import annotations

from typing import Any


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _element(el: dict[str, Any]) -> str:
    kind = el.get("type", "")
    if kind == "button":
        return f"[{_text(el.get('text'))}]"
    if kind == "overflow":
        return "[...]"
    if kind == "image":
        return f"(image: {el.get('alt_text', '')})"
    if kind in ("checkboxes", "radio_buttons"):
        mark = "[ ]" if kind == "checkboxes" else "( )"
        return "  ".join(f"{mark} {_text(o.get('text'))}" for o in el.get("options", []))
    if kind == "datepicker":
        return f"[date: {el.get('initial_date') or _text(el.get('placeholder')) or '____'}]"
    if kind.endswith("select"):
        initial = el.get("initial_option")
        label = _text(initial.get("text")) if isinstance(initial, dict) else ""
        return f"[{label or _text(el.get('placeholder')) or 'Select'} v]"
    if kind.endswith("input"):
        return el.get("initial_value") or "____"
    return f"<{kind}>"


def _rich_text(block: dict[str, Any]) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            elif node.get("type") == "user":
                parts.append(f"@{node.get('user_id', '')}")
            elif node.get("type") == "link":
                parts.append(str(node.get("text") or node.get("url", "")))
            for child in node.get("elements", []):
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(block.get("elements", []))
    return "".join(parts)


def _block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"))
        return [title.upper(), "=" * len(title)]
    if kind == "section":
        lines = [_text(block["text"])] if block.get("text") else []
        lines += [f"  {_text(f)}" for f in block.get("fields", [])]
        if isinstance(block.get("accessory"), dict):
            lines.append("  " + _element(block["accessory"]))
        return lines
    if kind == "context":
        return [
            " | ".join(
                _element(e) if e.get("type") == "image" else _text(e)
                for e in block.get("elements", [])
            )
        ]
    if kind == "actions":
        return [" ".join(_element(e) for e in block.get("elements", []))]
    if kind == "divider":
        return ["-" * 40]
    if kind == "input":
        suffix = " (optional)" if block.get("optional") else ""
        lines = [f"{_text(block.get('label'))}{suffix}: {_element(block.get('element', {}))}"]
        if block.get("hint"):
            lines.append(f"  ({_text(block['hint'])})")
        return lines
    if kind == "image":
        return [f"(image: {block.get('alt_text', '')})"]
    if kind == "markdown":
        return [str(block.get("text", ""))]
    if kind == "rich_text":
        return [_rich_text(block)]
    return [f"<{kind}>"]


def render_blocks(blocks: list[dict[str, Any]] | None, text: str | None = None) -> str:
    """Readable text for a list of blocks; `text` is shown when there are no blocks."""
    if not blocks:
        return text or ""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, dict):
            lines.extend(_block(block))
    return "\n".join(lines)


def render_view(view: dict[str, Any]) -> str:
    """A modal or Home tab as text: boxed title, blocks, then the submit/close buttons."""
    title = _text(view.get("title")) or ("Home" if view.get("type") == "home" else "")
    lines = [f"+-- {title} --+"] if title else []
    body = render_blocks(view.get("blocks", []))
    if body:
        lines.append(body)
    buttons = [f"[{_text(view[key])}]" for key in ("close", "submit") if view.get(key)]
    if buttons:
        lines.append(" ".join(buttons))
    return "\n".join(lines)
