/* The diary grid's keyboard: Enter and arrows move between cells, "All targets" fills its row,
   "Add a time" adds a row. Everything here is a convenience: the form works without it. */
(function () {
  "use strict";
  function cell(row, col) {
    return document.querySelector('input[data-row="' + row + '"][data-col="' + col + '"]');
  }
  function move(el, key) {
    var row = +el.dataset.row, col = +el.dataset.col;
    if (key === "Enter" || key === "ArrowDown") {
      return cell(row + 1, col) || (key === "Enter" ? document.getElementById("save-diary") : null);
    }
    if (key === "ArrowUp") return cell(row - 1, col);
    /* Cells hold a score of one to three digits: left and right always move, as in a spreadsheet. */
    if (key === "ArrowRight") return cell(row, col + 1);
    if (key === "ArrowLeft") return cell(row, col - 1);
    return null;
  }
  document.addEventListener("keydown", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("input[data-row]")) return;
    if (e.key === "Enter") e.preventDefault(); /* Enter goes down; the Save button saves */
    var next = move(el, e.key);
    if (next) {
      e.preventDefault();
      next.focus();
      if (next.select) next.select();
    }
  });
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("input[data-all]")) return;
    document.querySelectorAll('input[data-target][data-row="' + el.dataset.row + '"]').forEach(function (c) {
      c.value = el.value;
    });
  });
  function renumber(tr, row) {
    tr.querySelectorAll("[name],[id],[for],[data-row]").forEach(function (node) {
      ["name", "id", "for"].forEach(function (attr) {
        var value = node.getAttribute(attr);
        if (value) node.setAttribute(attr, value.replace(/^(score|minutes)-\d+/, "$1-" + row));
      });
      if (node.dataset.row !== undefined) node.dataset.row = row;
      if (node.tagName === "INPUT") { node.value = ""; node.removeAttribute("aria-invalid"); }
      if (node.classList.contains("cell-error")) node.textContent = "";
    });
  }
  document.addEventListener("click", function (e) {
    if (!e.target.matches || !e.target.matches("[data-add-row]")) return;
    var body = document.getElementById("diary-rows");
    var last = body.lastElementChild;
    var copy = last.cloneNode(true);
    renumber(copy, +last.querySelector("[data-row]").dataset.row + 1);
    copy.querySelectorAll(".error").forEach(function (n) { n.textContent = ""; });
    body.appendChild(copy);
    if (window.htmx) window.htmx.process(copy);
    copy.querySelector("input").focus();
  });
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localNow() {
    var d = new Date(), off = -d.getTimezoneOffset(), sign = off < 0 ? "-" : "+";
    off = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) +
      ":" + pad(d.getMinutes()) + " " + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }
  function fillNow(root) {
    root.querySelectorAll("input[data-local-now]").forEach(function (el) {
      /* Not under the cursor: someone already in the field is typing their own time, and a value set
         between their select-all and their first key would end up in front of what they type. */
      if (!el.dataset.filled && el.defaultValue === el.value && !el.getAttribute("aria-invalid") &&
          document.activeElement !== el) {
        el.value = localNow(); /* the server only knows UTC; the browser knows the clinic's clock */
        el.dataset.filled = "1";
      }
    });
  }
  function focusError() {
    /* After a refused form, the cursor goes where the first correction is needed. */
    var bad = document.querySelector('input[aria-invalid="true"]');
    if (bad) { bad.focus(); if (bad.select) bad.select(); }
  }
  document.addEventListener("DOMContentLoaded", function () { fillNow(document); focusError(); });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail && e.detail.target !== document.body) return; /* a cell's own check: leave focus alone */
    fillNow(document);
    focusError();
  });
})();
