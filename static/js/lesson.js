// Lesson page behaviour, loaded as a file so the page needs no inline script under the Content-Security-Policy.
// Everything here is an enhancement: without it the page reads, links to the glossary and has a "Mark as read" form.
//  - reading time: counts the seconds the page is visible, reports them after a while (the lesson is then "in
//    progress"), and completes the lesson when its end is reached after enough time (the server checks the time
//    against its own clock, see lessons/services.py);
//  - a copy button on every code block;
//  - scrollable diagrams and tables become focusable, with a hint when they overflow;
//  - glossary terms open their definition in place on tap, click or focus;
//  - the table of contents marks the section being read.
(function () {
  "use strict";

  var FIRST_REPORT_S = 15; // reading this long is worth keeping: the lesson becomes "in progress"
  var REPORT_EVERY_S = 60;

  // ---- Reading time and completion ------------------------------------------------------------------------
  function reading(end) {
    var seconds = 0;
    var reported = 0;
    var endSeen = false;
    var pending = false;
    var remaining = Number(end.dataset.remaining || "0");
    var completion = function () { return document.getElementById("completion"); };
    var completed = function () { var c = completion(); return c && c.dataset.completed === "true"; };

    function body() {
      var data = new URLSearchParams();
      data.set("visit", end.dataset.visit);
      data.set("seconds", String(seconds));
      return data;
    }

    function report() {
      if (completed()) return;
      reported = seconds;
      fetch(end.dataset.readingUrl, {
        method: "POST", body: body(), credentials: "same-origin", keepalive: true,
        headers: { "X-CSRFToken": window.commsLabCsrfToken() },
      }).catch(function () { reported = 0; });
    }

    function complete() {
      if (pending || completed() || !window.htmx) return;
      pending = true;
      reported = seconds;
      window.htmx.ajax("POST", end.dataset.completeUrl, {
        target: "#completion", swap: "outerHTML", values: Object.fromEntries(body()),
      }).finally(function () { pending = false; });
    }

    setInterval(function () {
      if (document.visibilityState !== "visible" || completed()) return;
      seconds += 1;
      if (endSeen && seconds === remaining) complete();
      else if (seconds === FIRST_REPORT_S || (seconds > FIRST_REPORT_S && seconds - reported >= REPORT_EVERY_S)) report();
    }, 1000);

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && seconds >= FIRST_REPORT_S && seconds > reported) report();
    });

    // Reaching the end: completes the lesson once enough time has passed; before that the server explains
    // how long is left, and the lesson completes by itself when the time is reached.
    new IntersectionObserver(function (entries) {
      if (!entries.some(function (e) { return e.isIntersecting; })) return;
      var first = !endSeen;
      endSeen = true;
      if (seconds >= remaining || first) complete();
    }, { threshold: 0.5 }).observe(end.querySelector("h2"));

    // The plain form posts the page's count of seconds too.
    end.addEventListener("htmx:configRequest", function (event) {
      event.detail.parameters.seconds = String(seconds);
    });
  }

  // ---- Code: copy buttons -----------------------------------------------------------------------------------
  function copyButtons(root) {
    root.querySelectorAll(".lesson-body .codehilite").forEach(function (block) {
      var pre = block.querySelector("pre");
      if (!pre || block.querySelector(".copy-code")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy " + (pre.getAttribute("aria-label") || "code").toLowerCase());
      var status = document.createElement("span");
      status.className = "sr-only";
      status.setAttribute("role", "status");
      button.addEventListener("click", function () {
        var text = pre.innerText.replace(/\n$/, "");
        var done = function (ok) {
          button.textContent = ok ? "Copied" : "Select and copy";
          status.textContent = ok ? "Code copied to the clipboard." : "Copying failed; select the code and copy it.";
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
        } else {
          done(false);
        }
      });
      block.appendChild(button);
      block.appendChild(status);
    });
  }

  // ---- Scrollable diagrams and tables ---------------------------------------------------------------------
  function scrollables() {
    document.querySelectorAll(".lesson-body .diagram-scroll, .lesson-body .table-scroll").forEach(function (box, i) {
      var overflowing = box.scrollWidth > box.clientWidth + 1;
      var figure = box.closest("figure");
      var hint = figure ? figure.querySelector(".scroll-hint") : null;
      if (overflowing) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        var caption = figure && figure.querySelector("figcaption");
        var what = box.classList.contains("table-scroll") ? "Table " + (i + 1) : "Diagram: " + (caption ? caption.textContent : i + 1);
        box.setAttribute("aria-label", what + " (scrolls sideways)");
        if (figure && !hint) {
          hint = document.createElement("p");
          hint.className = "scroll-hint";
          hint.innerHTML = "<span aria-hidden=\"true\">⇆</span> Wider than the screen: scroll sideways, or turn your phone.";
          box.after(hint);
        }
      } else {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        if (hint) hint.remove();
      }
    });
  }

  // ---- Glossary terms: the definition in place --------------------------------------------------------------
  function glossaryTerms() {
    var open = null;
    var counter = 0;

    function close() {
      if (!open) return;
      open.link.removeAttribute("aria-describedby");
      open.link.setAttribute("aria-expanded", "false");
      open.popover.remove();
      open = null;
    }

    function show(link) {
      if (open && open.link === link) return;
      close();
      var popover = document.createElement("span");
      popover.className = "term-popover";
      popover.id = "term-popover-" + (++counter);
      popover.setAttribute("role", "tooltip");
      var name = document.createElement("strong");
      name.textContent = link.dataset.term;
      var text = document.createElement("span");
      text.textContent = " " + link.dataset.definition + " ";
      var more = document.createElement("a");
      more.href = link.href;
      more.textContent = "More in the glossary";
      more.tabIndex = -1;
      popover.append(name, text, more);
      link.parentElement.classList.add("term-wrap");
      link.after(popover);
      link.setAttribute("aria-describedby", popover.id);
      link.setAttribute("aria-expanded", "true");
      open = { link: link, popover: popover };
    }

    document.querySelectorAll(".lesson-body a.term").forEach(function (link) {
      link.dataset.definition = link.title;
      link.dataset.term = link.textContent;
      link.removeAttribute("title"); // the popover replaces the hover-only tooltip
      link.setAttribute("aria-expanded", "false");
      link.addEventListener("focus", function () { show(link); });
      link.addEventListener("blur", function (event) {
        if (!open || !open.popover.contains(event.relatedTarget)) close();
      });
      link.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey) return;
        if (open && open.link === link && link.dataset.shownByClick === "true") return; // second tap: follow it
        event.preventDefault();
        show(link);
        link.dataset.shownByClick = "true";
      });
    });
    document.addEventListener("keydown", function (event) { if (event.key === "Escape") close(); });
    document.addEventListener("click", function (event) {
      if (open && !open.popover.contains(event.target) && event.target !== open.link) {
        open.link.dataset.shownByClick = "false";
        close();
      }
    });
  }

  // ---- Table of contents: the section being read -----------------------------------------------------------
  function tableOfContents() {
    var links = {};
    document.querySelectorAll(".toc a[href^='#']").forEach(function (a) { links[a.getAttribute("href").slice(1)] = a; });
    var headings = Array.from(document.querySelectorAll(".lesson-body h2[id], #lesson-end")).filter(function (h) { return links[h.id]; });
    if (!headings.length) return;
    var current = null;
    function update() {
      var line = window.innerHeight * 0.3;
      var active = headings[0];
      headings.forEach(function (h) { if (h.getBoundingClientRect().top <= line) active = h; });
      if (active === current) return;
      if (current) links[current.id].removeAttribute("aria-current");
      links[active.id].setAttribute("aria-current", "location");
      current = active;
    }
    var queued = false;
    window.addEventListener("scroll", function () {
      if (queued) return;
      queued = true;
      requestAnimationFrame(function () { queued = false; update(); });
    }, { passive: true });
    update();
  }

  function start() {
    var end = document.getElementById("lesson-end");
    if (end && end.dataset.visit) reading(end);
    copyButtons(document);
    scrollables();
    var resize = null;
    window.addEventListener("resize", function () { clearTimeout(resize); resize = setTimeout(scrollables, 150); });
    glossaryTerms();
    tableOfContents();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
