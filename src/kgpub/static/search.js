/* The search page: Pagefind's UI on #search, started from this external file because the
 * site's Content-Security-Policy forbids inline scripts. Load it after the bundle:
 *   <script src="../_pagefind/pagefind-ui.js" defer></script>
 *   <script src="../_assets/search.js" defer></script>
 * and describe the page on the element:
 *   <div id="search" data-bundle-path="../_pagefind/" data-placeholder="Search..."></div>
 *
 * data-bundle-path   the bundle, relative to this page (pages are at various depths)
 * data-placeholder   the search box's placeholder, translated
 * data-translations  optional: a JSON object of Pagefind UI strings (zero_results, ...);
 *                    Pagefind UI already translates its strings from <html lang>
 * data-page-size     optional: results per page
 * data-unavailable   optional: text shown when the search bundle cannot be loaded
 *
 * The bundle's shards.json lists the other bundles of a sharded index (merged: Pagefind's
 * mergeIndex). The UI is mounted once every bundle is merged and its filters are loaded:
 * Pagefind counts a search's results per filter value from the filter chunks loaded when
 * the search runs, and the UI keeps those counts until the next search, so a first search
 * that beat a slow chunk would show wrong counts (0) until the words changed.
 *
 * ?q=words in the page's URL runs that search, so a plain
 * <form action="search.html"><input name="q"></form> on any page leads here; the URL follows
 * what is typed (replaceState) so that a search can be bookmarked or shared.
 * Without the bundle nothing throws: the element is marked data-search-state="unavailable".
 */
(function () {
  "use strict";

  var started = false;

  function query() {
    try {
      return (new URLSearchParams(window.location.search).get("q") || "").trim();
    } catch (e) {
      return "";
    }
  }

  function remember(term) {
    try {
      var url = new URL(window.location.href);
      if (term) {
        url.searchParams.set("q", term);
      } else {
        url.searchParams.delete("q");
      }
      if (url.href !== window.location.href) {
        window.history.replaceState(window.history.state, "", url.href);
      }
    } catch (e) {
      /* an opaque origin (file:) may refuse: the search still works */
    }
  }

  function options(el) {
    var opts = {
      element: el,
      showSubResults: false,
      showImages: false,
      processTerm: function (term) {
        remember((term || "").trim());
        return term;
      }
    };
    var translations = {};
    var raw = el.getAttribute("data-translations");
    if (raw) {
      try {
        var parsed = JSON.parse(raw);
        if (parsed && typeof parsed === "object") translations = parsed;
      } catch (e) {
        /* ignore malformed translations: Pagefind's own ones remain */
      }
    }
    var placeholder = el.getAttribute("data-placeholder");
    if (placeholder) translations.placeholder = placeholder;
    if (Object.keys(translations).length) opts.translations = translations;
    var size = parseInt(el.getAttribute("data-page-size") || "", 10);
    if (size > 0) opts.pageSize = size;
    var bundle = el.getAttribute("data-bundle-path");
    if (bundle) {
      // Resolved against the page (Pagefind would resolve some of its requests against its
      // own script instead); the site's root is the bundle's parent, the base of result URLs.
      var url = new URL(bundle.replace(/\/?$/, "/"), document.baseURI);
      opts.bundlePath = url.pathname;
      opts.baseUrl = new URL("../", url).pathname;
      // The index holds the default language's pages; another language's search page links
      // to its own pages, under its prefix ("fr/").
      var prefix = el.getAttribute("data-result-prefix") || "";
      if (/^[a-z]{2,3}(-[A-Za-z0-9]+)*\/$/.test(prefix)) opts.baseUrl += prefix;
    }
    return opts;
  }

  // Pagefind's input has only a placeholder: tie it to the page's visible <label for=...>.
  function labelInput(el) {
    var id = el.getAttribute("data-input-id");
    if (!id) return;
    var tie = function () {
      var input = el.querySelector("input[type=text], input[type=search], input:not([type])");
      if (!input) return false;
      input.id = id;
      return true;
    };
    if (tie() || typeof MutationObserver === "undefined") return;
    var observer = new MutationObserver(function () {
      if (tie()) observer.disconnect();
    });
    observer.observe(el, { childList: true, subtree: true });
  }

  function mount(el, opts) {
    try {
      var ui = new window.PagefindUI(opts);
      labelInput(el);
      el.setAttribute("data-search-state", "ready");
      var q = query();
      if (q && ui && typeof ui.triggerSearch === "function") ui.triggerSearch(q);
    } catch (e) {
      unavailable(el, e);
    }
  }

  function unavailable(el, why) {
    if (why && window.console) window.console.warn("search unavailable:", why);
    el.setAttribute("data-search-state", "unavailable");
    var text = el.getAttribute("data-unavailable");
    if (text && !el.hasChildNodes()) {
      var p = document.createElement("p");
      p.textContent = text;
      el.appendChild(p);
    }
  }

  // true when done (started, failed for good, or nothing to do); false to try again later.
  function start(last) {
    if (started) return true;
    var el = document.getElementById("search");
    if (!el) return true;
    if (typeof window.PagefindUI !== "function") {
      if (last) unavailable(el);
      return !!last;
    }
    started = true;
    var opts;
    try {
      opts = options(el);
    } catch (e) {
      unavailable(el, e);
      return true;
    }
    if (!opts.bundlePath) {
      mount(el, opts);
      return true;
    }
    // Load the search engine first (the UI then imports the very same module): when it is
    // missing the UI would fail with an uncaught error of its own. A large site's index is
    // split into bundles ("shards") that are searched together: shards.json lists the others.
    import(new URL(opts.bundlePath + "pagefind.js", document.baseURI).href)
      .then(function (pagefind) {
        return ready(pagefind, opts);
      })
      .then(
        function () {
          mount(el, opts);
        },
        function (e) {
          unavailable(el, e);
        }
      );
    return true;
  }

  // Merge the shards and load every filter chunk before the UI can search (see the top).
  function ready(pagefind, opts) {
    // The primary index's options, before it starts (the UI sets them again, harmlessly).
    return pagefind.options({ baseUrl: opts.baseUrl })
      .then(function () {
        return shards(opts);
      })
      .then(function (dirs) {
        var merged = Promise.resolve();
        dirs.forEach(function (dir) {
          merged = merged.then(function () {
            return pagefind.mergeIndex(opts.bundlePath + dir, { baseUrl: opts.baseUrl });
          });
        });
        return merged;
      })
      .then(function () {
        return pagefind.filters();
      });
  }

  // The shards' directories that shards.json lists: [] for an index in one piece.
  function shards(opts) {
    return fetch(opts.bundlePath + "shards.json").then(function (response) {
      if (!response.ok) return [];
      return response.json().then(function (list) {
        var dirs = (list && list.shards) || [];
        // Only plain subdirectories of the bundle ("shard-2/"), nothing else.
        return dirs.filter(function (dir) {
          return typeof dir === "string" && /^shard-[0-9]+\/$/.test(dir);
        });
      });
    });
  }

  function later() {
    // The bundle's script may still be loading (async, or a slow network): retry once all
    // of the page's resources are in.
    if (start(false)) return;
    if (document.readyState === "complete") {
      start(true);
    } else {
      window.addEventListener("load", function () {
        start(true);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", later);
  } else {
    later();
  }
})();
