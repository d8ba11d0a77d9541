"""The browser's own size check on the upload form, before anything is sent.

Gradio refuses a whole multi-file selection when one file is over its ``max_file_size``, with a toast
in its own units ("200.0 Mb"), so the valid files of that selection were thrown away. This script,
in the page's ``<head>``, looks at the sizes as soon as files are chosen or dropped on the upload box:
a file over ``NEEDLE_MAX_UPLOAD_MB`` (which the core would refuse anyway) is taken out of the selection
and named in a note under the box with its size, in the unit of :mod:`pipelines.base.sizes`; the others go on
as usual. The core still refuses an oversize file sent by the API, per file, and Gradio's ceiling still
keeps absurd uploads off the disk.
"""

from __future__ import annotations

import json

from pipelines.base.settings import Settings
from pipelines.base.sizes import GB, KB, MB, format_size, upload_limit_bytes

#: The id of the note the script writes (plain text) under the upload box.
NOTE_ID = "upload-refused"

_SCRIPT = r"""
<script>
(() => {
  const LIMIT = __LIMIT__;
  const LIMIT_TEXT = __LIMIT_TEXT__;
  const UNITS = __UNITS__;
  // pipelines.base.sizes.format_size, the same rule (tests compare the two in a real browser).
  const oneDecimal = (value) => {
    const text = value.toFixed(1);
    return text.endsWith(".0") ? text.slice(0, -2) : text;
  };
  const formatSize = (size) => {
    if (size < UNITS.KB) return `${size.toFixed(0)} B`;
    for (const [unit, factor] of [["KB", UNITS.KB], ["MB", UNITS.MB]]) {
      if (Math.round((size / factor) * 10) / 10 < 1000) return `${oneDecimal(size / factor)} ${unit}`;
    }
    return `${oneDecimal(size / UNITS.GB)} GB`;
  };
  window.needleFormatSize = formatSize;
  let relaying = false;
  // Gradio's file list prints sizes in 1024-based units labelled "MB": rewritten in the page's unit,
  // from the sizes of the files chosen (by name).
  const chosen = new Map();
  const GRADIO_SIZE = /^\s*\d+(?:\.\d+)?(?:\s|\u00a0)*(?:B|KB|MB|GB|PB)(?=[\s\u00a0]|$)/;
  const relabel = () => {
    for (const row of document.querySelectorAll("#upload-files table.file-preview tr")) {
      const stem = row.querySelector(".stem"), ext = row.querySelector(".ext");
      const cell = row.querySelector("td.download");
      const name = stem && ext ? `${stem.textContent.trim()}${ext.textContent.trim()}` : "";
      const size = chosen.get(name);
      if (!cell || size === undefined) continue;
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const match = node.nodeValue.match(GRADIO_SIZE);
        const wanted = formatSize(size);
        if (match && match[0].trim() !== wanted) {
          node.nodeValue = node.nodeValue.replace(GRADIO_SIZE, wanted);
        }
      }
    }
  };
  new MutationObserver(relabel).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true,
  });

  const showRefused = (zone, refused, keptCount) => {
    let note = document.getElementById("__NOTE_ID__");
    if (!refused.length) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.id = "__NOTE_ID__";
      note.setAttribute("role", "alert");
      note.style.color = "var(--error-text-color, #b91c1c)";
      note.style.margin = "4px 0";
      zone.insertAdjacentElement("afterend", note);
    }
    const names = refused.map((file) => `${file.name} (${formatSize(file.size)})`).join(", ");
    const rest = keptCount ? ` The other ${keptCount} file(s) were kept.` : "";
    note.textContent = `❌ Not sent, over the upload limit of ${LIMIT_TEXT}: ${names}.${rest}`;
  };

  const split = (files) => {
    for (const file of files) chosen.set(file.name, file.size);
    const kept = new DataTransfer();
    const refused = [];
    for (const file of files) {
      if (file.size > LIMIT) refused.push(file);
      else kept.items.add(file);
    }
    return [kept.files, refused];
  };

  document.addEventListener("change", (event) => {
    const input = event.target;
    if (relaying || !(input instanceof HTMLInputElement) || input.type !== "file") return;
    const zone = input.closest("#upload-files");
    if (!zone) return;
    const [kept, refused] = split(Array.from(input.files || []));
    showRefused(zone, refused, kept.length);
    if (!refused.length) return;
    input.files = kept;
    if (!kept.length) event.stopImmediatePropagation();
  }, true);

  document.addEventListener("drop", (event) => {
    const zone = event.target instanceof Element ? event.target.closest("#upload-files") : null;
    if (!zone || !event.dataTransfer) return;
    const [kept, refused] = split(Array.from(event.dataTransfer.files));
    showRefused(zone, refused, kept.length);
    if (!refused.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const input = zone.querySelector("input[type=file]");
    if (!input || !kept.length) return;
    input.files = kept;
    relaying = true;
    try {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    } finally {
      relaying = false;
    }
  }, true);
})();
</script>
"""


def upload_guard_head(settings: Settings) -> str:
    """The ``<head>`` snippet for the console (``head=`` of ``launch`` and ``mount_gradio_app``)."""
    limit = upload_limit_bytes(settings.max_upload_mb)
    return (
        _SCRIPT.replace("__LIMIT__", str(limit))
        .replace("__LIMIT_TEXT__", json.dumps(format_size(limit)))
        .replace("__UNITS__", json.dumps({"KB": KB, "MB": MB, "GB": GB}))
        .replace("__NOTE_ID__", NOTE_ID)
    )
