"""Ask before a page with unsaved typing is left, and keep its kernel if the person stays.

A reviewer half way through a review who reloads the page, closes the tab or follows a link
lost everything typed: Voila shuts the page's kernel down in its ``beforeunload`` handler
(``@voila-dashboards/widgets-manager8``: a ``sendBeacon`` to ``voila/api/shutdown/<kernel>``),
and the form lives in that kernel. A browser asks "Leave site? Changes you made may not be
saved." only if a ``beforeunload`` handler cancels the event, and even then Voila's handler has
already ended the kernel: a person who chose to stay kept a dead page.

:class:`LeaveGuard` is an invisible widget (``anywidget``: its few lines of JavaScript travel
with the widget, nothing is built or downloaded) that works with a listener the ``sjr-offline``
Voila template adds to every dashboard page before Voila's scripts run
(``jupyter_data/voila/templates/sjr-offline/index.html.j2``; ``sjr serve`` and the JupyterHub
servers use that template). While :attr:`LeaveGuard.armed` is true:

- the template's ``beforeunload`` listener, which runs before Voila's, stops the event there
  (Voila's handler does not run: the kernel stays) and cancels it, so the browser asks;
- if the person leaves all the same, the page's ``pagehide`` sends Voila's own shutdown request
  (the same address and ``_xsrf`` form field), so the kernel is still given back at once, not by
  the idle culler;
- if they stay, the page, its kernel and their typing are as they were.

While it is not armed, Voila's handler runs as before: a page with nothing unsaved is left
without a question and its kernel shut down. On a page without that template (JupyterLab) the
widget only asks.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["LeaveGuard"]

_ESM = r"""
function render({ model, el }) {
  el.style.display = "none";
  const page = window.sjrLeaveGuard;  // the sjr-offline template's listener, ahead of Voila's
  if (!page) {
    // another page (JupyterLab, another template): ask, nothing more
    const ask = (event) => {
      if (!model.get("armed")) return;
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }
  let config = {};
  try {
    config = JSON.parse(document.getElementById("jupyter-config-data").textContent);
  } catch (error) {
    config = {};
  }
  if (config.kernelId) {
    page.shutdown = () => {  // Voila's own request: the same address and _xsrf form field
      const form = new FormData();
      const xsrf = document.cookie.match("\\b_xsrf=([^;]*)\\b");
      form.append("_xsrf", (xsrf && xsrf[1]) || "");
      navigator.sendBeacon(`${config.baseUrl || "/"}voila/api/shutdown/${config.kernelId}`,
                           form);
    };
  }
  const arm = () => { page.armed = Boolean(model.get("armed")); };
  arm();
  model.on("change:armed", arm);
  return () => {
    model.off("change:armed", arm);
    page.armed = false;
  };
}
export default { render };
"""


class LeaveGuard(anywidget.AnyWidget):
    """Put it anywhere in the page's widgets; set :attr:`armed` while there is unsaved typing."""

    _esm = _ESM
    armed = traitlets.Bool(False).tag(sync=True)
    """True while leaving the page would lose something: the browser then asks first."""
