// The programme editor: drag an item to move it, or Alt+↑ / Alt+↓ on it, within and across
// segments. Moving only reorders the form; nothing is saved until « Enregistrer ». The ↑ / ↓
// buttons do the same without this script (the server reorders and shows the form again).
(function () {
  "use strict";
  const form = document.querySelector("[data-editor]");
  if (!form) return;

  function renumber() {
    form.querySelectorAll("[data-segment]").forEach(function (segment, s) {
      segment.querySelectorAll("[data-item]").forEach(function (item, i) {
        item.querySelectorAll("[name], [id], [for], [value^='up:'], [value^='down:'], [value^='remove-item:']").forEach(function (el) {
          ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
            const value = el.getAttribute(attr);
            if (value) el.setAttribute(attr, value.replace(/s\d+\.i\d+/, "s" + s + ".i" + i));
          });
          const op = el.getAttribute("value");
          if (el.name === "op" && op) el.setAttribute("value", op.replace(/:\d+:\d+$/, ":" + s + ":" + i));
        });
      });
    });
  }

  function move(item, direction) {
    const list = item.parentElement;
    const items = Array.from(document.querySelectorAll("[data-item]"));
    const index = items.indexOf(item);
    if (direction < 0 && index > 0) {
      const before = items[index - 1];
      if (before.parentElement === list) list.insertBefore(item, before);
      else before.parentElement.appendChild(item);
    } else if (direction > 0 && index < items.length - 1) {
      const after = items[index + 1];
      if (after.parentElement === list) list.insertBefore(after, item);
      else after.parentElement.insertBefore(item, after.parentElement.firstChild);
    } else {
      return;
    }
    renumber();
    item.focus();
  }

  let dragged = null;
  form.addEventListener("dragstart", function (event) {
    const item = event.target.closest && event.target.closest("[data-item]");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", "");
  });
  form.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    renumber();
  });
  form.addEventListener("dragover", function (event) {
    if (!dragged) return;
    const list = event.target.closest && event.target.closest("[data-items]");
    if (!list) return;
    event.preventDefault();
    const over = event.target.closest("[data-item]");
    if (over && over !== dragged) {
      const box = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? over : over.nextSibling);
    } else if (!over) {
      list.appendChild(dragged);
    }
  });
  form.addEventListener("drop", function (event) {
    if (dragged) event.preventDefault();
  });
  form.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    const item = event.target.closest && event.target.closest("[data-item]");
    if (!item) return;
    event.preventDefault();
    move(item, event.key === "ArrowUp" ? -1 : 1);
  });
  // A move button moves at once, without a round trip, when this script runs.
  form.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-move]");
    if (!button) return;
    event.preventDefault();
    move(button.closest("[data-item]"), button.dataset.move === "up" ? -1 : 1);
  });
})();
