"""Block Kit validation as Slack applies it (contract §4), returning Slack-style messages.

Each problem is a string such as
`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`, the format Slack uses in
`errors` / `response_metadata.messages`. Raw dicts are checked because apps that build blocks
by hand bypass slack_sdk's model validation. Where Slack's exact wording is unknown (duplicate
block_id, wrong text type) the message follows the same shape.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
VIEW_MAX_BYTES = 250_000
MESSAGE_TEXT_MAX = 4000

TEXT_TYPES = ("plain_text", "mrkdwn")
PLAIN = ("plain_text",)

BLOCK_TYPES = {
    "section",
    "header",
    "context",
    "actions",
    "divider",
    "image",
    "input",
    "rich_text",
    "markdown",
    "file",
    "video",
    "call",
}
SELECT_TYPES = {
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
}
INPUT_ONLY_TYPES = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
}
ELEMENT_TYPES = (
    SELECT_TYPES
    | INPUT_ONLY_TYPES
    | {
        "button",
        "overflow",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "checkboxes",
        "radio_buttons",
        "image",
        "workflow_button",
    }
)


def _ptr(path: str, msg: str) -> str:
    return f"{msg} [json-pointer:{path}]"


class _Checker:
    """Walks one message or view and collects problems (pointer-tagged strings)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, msg: str) -> None:
        self.problems.append(_ptr(path, msg))

    # -- primitives -------------------------------------------------------------------------
    def string(self, value: Any, path: str, max_len: int, *, min_len: int = 0) -> None:
        if not isinstance(value, str):
            self.add(path, "must be a string")
        elif len(value) > max_len:
            self.add(path, f"must be less than {max_len + 1} characters")
        elif len(value) < min_len:
            self.add(path, f"must be more than {min_len - 1} characters")

    def items(self, value: Any, path: str, max_items: int, *, min_items: int = 0) -> bool:
        if not isinstance(value, list):
            self.add(path, "must provide an array")
            return False
        if len(value) > max_items:
            self.add(path, f"no more than {max_items} items allowed")
        if len(value) < min_items:
            self.add(path, f"must provide at least {min_items} items")
        return True

    def text(
        self, obj: Any, path: str, max_len: int = 3000, types: tuple[str, ...] = TEXT_TYPES
    ) -> None:
        if not isinstance(obj, dict):
            self.add(path, "must provide an object")
            return
        kind = obj.get("type")
        if kind is None:
            self.add(path, "missing required field: type")
        elif kind not in types:
            allowed = ", ".join(types)
            self.add(f"{path}/type", f"must be one of [{allowed}]")
        if "text" not in obj:
            self.add(path, "missing required field: text")
            return
        self.string(obj["text"], f"{path}/text", max_len, min_len=1)

    def optional_text(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        max_len: int,
        types: tuple[str, ...] = TEXT_TYPES,
    ) -> None:
        if key in obj and obj[key] is not None:
            self.text(obj[key], f"{path}/{key}", max_len, types)

    def required(self, obj: dict[str, Any], key: str, path: str) -> bool:
        if key not in obj or obj[key] is None:
            self.add(path, f"missing required field: {key}")
            return False
        return True

    # -- composition objects ----------------------------------------------------------------
    def confirm(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            self.add(path, "must provide an object")
            return
        for key, limit, types in (
            ("title", 100, PLAIN),
            ("text", 300, TEXT_TYPES),
            ("confirm", 30, PLAIN),
            ("deny", 30, PLAIN),
        ):
            if self.required(obj, key, path):
                self.text(obj[key], f"{path}/{key}", limit, types)

    def option(self, obj: Any, path: str, text_types: tuple[str, ...] = PLAIN) -> None:
        if not isinstance(obj, dict):
            self.add(path, "must provide an object")
            return
        if self.required(obj, "text", path):
            self.text(obj["text"], f"{path}/text", 75, text_types)
        if self.required(obj, "value", path):
            self.string(obj["value"], f"{path}/value", 150)
        self.optional_text(obj, "description", path, 75, text_types)
        if "url" in obj:
            self.string(obj["url"], f"{path}/url", 3000)

    def options(
        self,
        value: Any,
        path: str,
        max_items: int,
        text_types: tuple[str, ...] = PLAIN,
        min_items: int = 0,
    ) -> None:
        if self.items(value, path, max_items, min_items=min_items):
            for i, opt in enumerate(value):
                self.option(opt, f"{path}/{i}", text_types)

    # -- elements ---------------------------------------------------------------------------
    def element(self, el: Any, path: str, allowed: set[str] | None = None) -> None:
        if not isinstance(el, dict):
            self.add(path, "must provide an object")
            return
        kind = el.get("type")
        if kind is None:
            self.add(path, "missing required field: type")
            return
        if kind not in ELEMENT_TYPES or (allowed is not None and kind not in allowed):
            self.add(path, "failed to match all allowed schemas")
            return
        if "action_id" in el:
            self.string(el["action_id"], f"{path}/action_id", 255)
        if "confirm" in el:
            self.confirm(el["confirm"], f"{path}/confirm")
        if "placeholder" in el:
            self.text(el["placeholder"], f"{path}/placeholder", 150, PLAIN)
        if kind == "button":
            if self.required(el, "text", path):
                self.text(el["text"], f"{path}/text", 75, PLAIN)
            if "value" in el:
                self.string(el["value"], f"{path}/value", 2000)
            if "url" in el:
                self.string(el["url"], f"{path}/url", 3000)
            if el.get("style") not in (None, "primary", "danger"):
                self.add(f"{path}/style", "must be one of [primary, danger]")
        elif kind == "overflow":
            if self.required(el, "options", path):
                self.options(el["options"], f"{path}/options", 5, min_items=1)
        elif kind in ("checkboxes", "radio_buttons"):
            if self.required(el, "options", path):
                self.options(el["options"], f"{path}/options", 10, TEXT_TYPES, min_items=1)
        elif kind in ("static_select", "multi_static_select"):
            self.static_select(el, path)
        elif kind == "plain_text_input":
            self.length_bounds(el, path)
        elif kind == "image":
            self.image_fields(el, path)

    def static_select(self, el: dict[str, Any], path: str) -> None:
        if "options" in el:
            self.options(el["options"], f"{path}/options", 100)
        elif "option_groups" in el:
            groups = el["option_groups"]
            if self.items(groups, f"{path}/option_groups", 100):
                for i, group in enumerate(groups):
                    gpath = f"{path}/option_groups/{i}"
                    if not isinstance(group, dict):
                        self.add(gpath, "must provide an object")
                        continue
                    if self.required(group, "label", gpath):
                        self.text(group["label"], f"{gpath}/label", 75, PLAIN)
                    if self.required(group, "options", gpath):
                        self.options(group["options"], f"{gpath}/options", 100)
        else:
            self.add(path, "missing required field: options")

    def length_bounds(self, el: dict[str, Any], path: str) -> None:
        for key, low in (("max_length", 1), ("min_length", 0)):
            if key in el:
                value = el[key]
                if not isinstance(value, int) or not low <= value <= 3000:
                    self.add(f"{path}/{key}", f"must be between {low} and 3000")

    def image_fields(self, obj: dict[str, Any], path: str) -> None:
        if "image_url" in obj:
            self.string(obj["image_url"], f"{path}/image_url", 3000)
        elif "slack_file" not in obj:
            self.add(path, "missing required field: image_url")
        if self.required(obj, "alt_text", path):
            self.string(obj["alt_text"], f"{path}/alt_text", 2000)

    # -- blocks -----------------------------------------------------------------------------
    def blocks(self, blocks: Any, path: str, max_blocks: int, in_modal: bool = False) -> None:
        if not self.items(blocks, path, max_blocks):
            return
        seen: dict[str, int] = {}
        for i, block in enumerate(blocks):
            bpath = f"{path}/{i}"
            if not isinstance(block, dict):
                self.add(bpath, "must provide an object")
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                self.string(block_id, f"{bpath}/block_id", 255)
                if block_id in seen:
                    self.add(f"{bpath}/block_id", f"duplicate block_id: {block_id}")
                seen[block_id] = i
            self.block(block, bpath)

    def block(self, block: dict[str, Any], path: str) -> None:
        kind = block.get("type")
        if kind is None:
            self.add(path, "missing required field: type")
            return
        if kind not in BLOCK_TYPES:
            self.add(path, "failed to match all allowed schemas")
            return
        handler = getattr(self, f"block_{kind}", None)
        if handler is not None:
            handler(block, path)

    def block_section(self, b: dict[str, Any], path: str) -> None:
        has_text = b.get("text") is not None
        if has_text:
            self.text(b["text"], f"{path}/text", 3000)
        if "fields" in b:
            if self.items(b["fields"], f"{path}/fields", 10, min_items=1):
                for i, field in enumerate(b["fields"]):
                    self.text(field, f"{path}/fields/{i}", 2000)
        elif not has_text:
            self.add(path, "must provide either text or fields")
        if "accessory" in b:
            self.element(b["accessory"], f"{path}/accessory", ELEMENT_TYPES - INPUT_ONLY_TYPES)

    def block_header(self, b: dict[str, Any], path: str) -> None:
        if self.required(b, "text", path):
            self.text(b["text"], f"{path}/text", 150, PLAIN)

    def block_context(self, b: dict[str, Any], path: str) -> None:
        if not self.required(b, "elements", path):
            return
        if self.items(b["elements"], f"{path}/elements", 10, min_items=1):
            for i, el in enumerate(b["elements"]):
                epath = f"{path}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image_fields(el, epath)
                else:
                    self.text(el, epath, 3000)

    def block_actions(self, b: dict[str, Any], path: str) -> None:
        if not self.required(b, "elements", path):
            return
        if self.items(b["elements"], f"{path}/elements", 25, min_items=1):
            allowed = ELEMENT_TYPES - INPUT_ONLY_TYPES - {"image"}
            for i, el in enumerate(b["elements"]):
                self.element(el, f"{path}/elements/{i}", allowed)

    def block_image(self, b: dict[str, Any], path: str) -> None:
        self.image_fields(b, path)
        self.optional_text(b, "title", path, 2000, PLAIN)

    def block_input(self, b: dict[str, Any], path: str) -> None:
        if self.required(b, "label", path):
            self.text(b["label"], f"{path}/label", 2000, PLAIN)
        self.optional_text(b, "hint", path, 2000, PLAIN)
        if self.required(b, "element", path):
            self.element(
                b["element"], f"{path}/element", ELEMENT_TYPES - {"button", "overflow", "image"}
            )

    def block_markdown(self, b: dict[str, Any], path: str) -> None:
        if self.required(b, "text", path):
            self.string(b["text"], f"{path}/text", 12_000, min_len=1)

    def block_rich_text(self, b: dict[str, Any], path: str) -> None:
        if self.required(b, "elements", path):
            self.items(b["elements"], f"{path}/elements", 10_000)


def validate_message_blocks(blocks: Any) -> list[str]:
    """Problems with a message's `blocks` (empty list = valid). Pointers start at /blocks."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", MESSAGE_MAX_BLOCKS)
    return checker.problems


def validate_view(view: Any) -> list[str]:
    """Problems with a modal or Home tab view. Pointers start at /view."""
    checker = _Checker()
    if not isinstance(view, dict):
        return [_ptr("/view", "must provide an object")]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.add("/view/type", "must be one of [modal, home]")
    if kind == "modal":
        if checker.required(view, "title", "/view"):
            checker.text(view["title"], "/view/title", 24, PLAIN)
        for key in ("submit", "close"):
            checker.optional_text(view, key, "/view", 24, PLAIN)
    for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        if view.get(key) is not None:
            checker.string(view[key], f"/view/{key}", limit)
    if checker.required(view, "blocks", "/view"):
        blocks = view["blocks"]
        checker.blocks(blocks, "/view/blocks", VIEW_MAX_BLOCKS)
        if kind == "modal" and view.get("submit") is None and isinstance(blocks, list):
            for i, block in enumerate(blocks):
                if isinstance(block, dict) and block.get("type") == "input":
                    checker.add(
                        f"/view/blocks/{i}/input",
                        "a view must define `submit` to use an `input` block in modals",
                    )
                    break
    return checker.problems


def view_too_large(view: Any) -> bool:
    """True when the serialised view exceeds Slack's 250 kB (`view_too_large`)."""
    return len(json.dumps(view, separators=(",", ":")).encode()) > VIEW_MAX_BYTES


def chat_error_body(problems: list[str]) -> dict[str, Any]:
    """The chat.* rejection body (contract §3.4, incidentbot#328)."""
    return {
        "ok": False,
        "error": "invalid_blocks",
        "errors": list(problems),
        "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
    }


def views_error_body(problems: list[str]) -> dict[str, Any]:
    """The views.* rejection body: `invalid_arguments` with a schema summary first (S-25)."""
    messages = ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]
    messages += [f"[ERROR] {p}" for p in problems]
    return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": messages}}
