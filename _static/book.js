/* Induction Heads, reproduced: what the site does on every screen (lib/induction_heads/publish/check_site.py checks
   each of these at 1400 and 420 px).

   1. The sidebar and contents buttons work at every width.
   2. A figure shown smaller than drawn (on a phone) opens full size on tap.
   3. A table wider than its column scrolls sideways with a visible cue.
   4. A name with hyphens ("attn-only-2l-d64") never breaks inside, wherever it is printed: a table,
      a printed line, a check's summary, a caption, the text. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  /* 1. pydata-sphinx-theme (and sphinx-book-theme's wide-screen fix) bind their handlers to the
     page's *first* .primary-toggle / .secondary-toggle: the site header's, which
     sphinx-book-theme hides. The buttons a reader sees, in the article's header, had no handler.
     Each of them now forwards its click to the bound button. */
  function forwardToggles() {
    ["primary-toggle", "secondary-toggle"].forEach(function (kind) {
      var buttons = document.querySelectorAll("button." + kind);
      if (buttons.length < 2) return;
      var bound = buttons[0];
      Array.prototype.slice.call(buttons, 1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopImmediatePropagation();
          button.blur();
          bound.click();
        }, true);
      });
    });
  }

  /* 2. Figures scale to the column (book.css). One shown at less than ZOOM_BELOW of its drawn
     width is marked .ih-zoomable, says how small it is shown ("Shown at 75% of its size: tap to
     open full size"; below DENSE_BELOW "Too small to read at this width (shown at 45% ...)"), and
     opens, on a tap on it or on that line, in a full-screen view that scrolls both ways. */
  var ZOOM_BELOW = 0.9;
  var DENSE_BELOW = 0.6;  // below this share its labels are too small to read, and the line says so
  var viewer = null;

  function openViewer(img) {
    if (!viewer) {
      viewer = document.createElement("dialog");
      viewer.className = "ih-zoom";
      viewer.setAttribute("aria-label", "Figure at full size");
      viewer.innerHTML = '<button type="button" class="ih-zoom-close" aria-label="Close">Close \u2715</button>' +
        '<div class="ih-zoom-body"><img alt=""></div>';
      viewer.addEventListener("click", function (event) {
        if (event.target === viewer || event.target.classList.contains("ih-zoom-close")) viewer.close();
      });
      document.body.appendChild(viewer);
    }
    var big = viewer.querySelector("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt;
    viewer.showModal();
  }

  function figureOf(img) {
    return img.closest("figure") || img.parentElement;
  }

  function markZoomable(img) {
    var holder = figureOf(img);
    if (!holder || !img.naturalWidth) return;
    var share = img.getBoundingClientRect().width / img.naturalWidth;
    var scaled = share < ZOOM_BELOW;
    holder.classList.toggle("ih-zoomable", scaled);
    var hint = holder.querySelector(":scope > .ih-zoom-hint");
    if (!(hint && scaled)) return;
    var shown = "shown at " + Math.round(100 * share) + "% of its size";
    hint.textContent = (share < DENSE_BELOW ? "Too small to read at this width (" + shown + ")" : shown.charAt(0).toUpperCase() + shown.slice(1))
      + ": tap to open full size \u2922";
  }

  function setupFigures() {
    // the front page's verdict thumbnails are part of their cards (a link to the chapter): no zoom
    var imgs = document.querySelectorAll(".cell_output img:not(.ih-verdict-thumb)");
    imgs.forEach(function (img) {
      var holder = figureOf(img);
      if (!holder || holder.querySelector(":scope > .ih-zoom-hint")) return;
      var hint = document.createElement("button");
      hint.type = "button";
      hint.className = "ih-zoom-hint";
      hint.textContent = "Open full size \u2922";
      hint.addEventListener("click", function () { openViewer(img); });
      img.insertAdjacentElement("afterend", hint);
      img.addEventListener("click", function () {
        if (holder.classList.contains("ih-zoomable")) openViewer(img);
      });
      if (img.complete) markZoomable(img);
      else img.addEventListener("load", function () { markZoomable(img); });
    });
    return imgs;
  }

  /* 3. Every table's scroll box (the output box of a table printed by a cell, the theme's box
     around a Markdown table) is marked .ih-wide while its table is wider than it, and preceded
     by a "scroll sideways" line; book.css adds shadows at the edges that have more to show. */
  var BOXES = ".cell_output .output.text_html, .pst-scrollable-table-container, .table-wrapper";

  function markWide(box) {
    if (!box.querySelector("table")) return;
    var wide = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("ih-wide", wide);
    var hint = box.previousElementSibling;
    if (!(hint && hint.classList.contains("ih-scroll-hint"))) {
      if (!wide) return;
      hint = document.createElement("div");
      hint.className = "ih-scroll-hint";
      hint.setAttribute("aria-hidden", "true");
      hint.textContent = "Wider than the page: scroll the table sideways \u2192";
      box.insertAdjacentElement("beforebegin", hint);
    }
    hint.hidden = !wide;
  }

  function setupTables() {
    var boxes = Array.prototype.slice.call(document.querySelectorAll(BOXES));
    boxes.forEach(markWide);
    if (window.ResizeObserver) {
      var seen = new ResizeObserver(function (entries) {
        entries.forEach(function (e) { markWide(e.target); });
      });
      boxes.forEach(function (b) { seen.observe(b); });
    }
    // A folded block that opens shows its tables: measure them then.
    document.addEventListener("toggle", function () { boxes.forEach(markWide); }, true);
  }

  /* 4. A line may break after a hyphen; on a phone that cut model names in pieces ("attn-/only-/2l")
     in table cells, in printed lines ("20 of 21 (not attn-" / "only-2l-d256)") and in the text.
     Each hyphenated word of the article (up to TOKEN_MAX characters, so that no word runs out of
     its column) is kept on one line (.ih-token, white-space: nowrap), and each short inline code
     with a hyphen. Left alone: scripts, styles and the circuitsvis views (drawn by their own
     script). */
  var TOKEN = /[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)+/g;
  var TOKEN_MAX = 48;
  var NOT_TEXT = "script, style, textarea, svg, .ih-circuitsvis, .ih-token, mjx-container, .MathJax";

  function wrapTokens(cell) {
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var text = node.nodeValue;
      if (text.indexOf("-") < 0 || node.parentElement.closest(NOT_TEXT)) return;
      TOKEN.lastIndex = 0;
      var parts = [], last = 0, m;
      while ((m = TOKEN.exec(text)) !== null) {
        if (m[0].length > TOKEN_MAX) continue;
        if (m.index > last) parts.push(document.createTextNode(text.slice(last, m.index)));
        var span = document.createElement("span");
        span.className = "ih-token";
        span.textContent = m[0];
        parts.push(span);
        last = m.index + m[0].length;
      }
      if (!parts.length) return;
      if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
      var frag = document.createDocumentFragment();
      parts.forEach(function (p) { frag.appendChild(p); });
      node.parentNode.replaceChild(frag, node);
    });
  }

  function setupTokens() {
    document.querySelectorAll("article code.literal, article code.docutils").forEach(function (code) {
      var text = code.textContent;
      if (text.indexOf("-") >= 0 && text.length <= 40) code.classList.add("ih-token");
    });
    document.querySelectorAll("article").forEach(wrapTokens);
  }

  ready(function () {
    forwardToggles();
    setupTokens();
    var imgs = setupFigures();
    setupTables();
    var again = function () {
      imgs.forEach(markZoomable);
      document.querySelectorAll(BOXES).forEach(markWide);
    };
    window.addEventListener("resize", again);
    window.addEventListener("load", again);
  });
})();
