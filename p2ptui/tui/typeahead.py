"""Type-ahead: keys typed right after a key that opens a screen belong to that screen.

Textual routes every key from the terminal to the focused widget the moment it arrives, then lets it bubble back to
the app, which runs the bindings of whichever screen is on top *then*. Typing "t9" fast therefore sends "9" to the
tree while "t" is still on its way; by the time "9" bubbles up, "t" has opened the copy form, the form has no
binding for "9", and the key is gone. Likewise a key that arrives while a pushed screen has not yet focused its first
field is handed to the bare screen and dropped.

The mixin remembers, for each key from the terminal, the screen on top and whether anything had focus when it was
routed. A key that comes back unhandled to a different screen, or to a screen that has focused a widget since, is
sent again once that screen has drawn (and so focused its field), in the order typed; keys typed meanwhile queue
behind it so nothing overtakes.
"""

from __future__ import annotations

from textual import events
from textual.app import App
from textual.screen import Screen

from ..fabric.bounded_dict import BoundedDict

REMEMBERED = 64  # keys a widget handled never come back; the oldest are forgotten


class TypeAhead(App):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # id(key) -> (key, screen, had focus)
        self._routed: BoundedDict[int, tuple[events.Key, Screen, bool]] = BoundedDict(REMEMBERED)
        self._waiting: list[events.Key] = []  # keys to send again, in the order typed

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if not event.is_forwarded:  # fresh from the terminal (or sent again below)
                if self._waiting:
                    self._wait(event)
                    return
                self._remember(event)
            else:  # on its way back up, unhandled by the widgets
                routed = self._routed.pop(id(event), None)
                if routed is not None and routed[0] is event and self._belongs_elsewhere(*routed[1:]):
                    self._wait(event)
                    return
        await super().on_event(event)

    def _remember(self, key: events.Key) -> None:
        self._routed[id(key)] = (key, self.screen, self.focused is not None)

    def _belongs_elsewhere(self, screen: Screen, had_focus: bool) -> bool:
        """Whether a key routed at ``screen`` was typed for the screen on top now."""
        if screen is not self.screen:
            return screen in self.screen_stack  # opened over the screen it was typed at (not closed meanwhile)
        return not had_focus and self.focused is not None

    def _wait(self, key: events.Key) -> None:
        self._waiting.append(events.Key(key.key, key.character))
        if len(self._waiting) == 1:
            self.call_after_refresh(self._send_waiting)

    def _send_waiting(self) -> None:
        keys, self._waiting = self._waiting, []
        for key in keys:
            self.post_message(key)
