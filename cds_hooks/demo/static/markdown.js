/* A small, safe renderer for the GitHub-Flavored Markdown that card details use.
 * Every piece of text is HTML-escaped before any markup is added, and link targets are limited to
 * http(s) and same-site paths, so a card can never inject HTML or script into the EHR page.
 * Supported: paragraphs, headings, bullet and numbered lists, pipe tables, **bold**, *italic*,
 * `code`, [links](https://…) and line breaks. Anything else is shown as plain text.
 */
"use strict";

window.NelmMarkdown = (function () {
  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function safeUrl(url) {
    var u = String(url).trim();
    if (/^https?:\/\//i.test(u) || (u.charAt(0) === "/" && u.charAt(1) !== "/")) return u;
    return null;
  }

  // Inline markup on text that is already escaped.
  function inline(escaped) {
    var codes = [];
    function keep(html) { codes.push(html); return "\u0000" + (codes.length - 1) + "\u0000"; }
    var out = escaped.replace(/`([^`]+)`/g, function (_, c) { return keep("<code>" + c + "</code>"); });
    // Backslash escapes (\* \_ \> …) show the character itself and take no part in markup.
    out = out.replace(/\\(&gt;|&lt;|&amp;|&quot;|&#39;|[\\`*_{}\[\]()#+\-.!|~])/g, function (_, ch) { return keep(ch); });
    // The label may hold one level of brackets, as CommonMark allows: [[41]](…/evidence#ref-41).
    out = out.replace(/\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\(([^)\s]+)\)/g, function (whole, label, href) {
      // href is escaped text; undo only &amp; so that query strings survive, then re-check the scheme.
      var url = safeUrl(href.replace(/&amp;/g, "&"));
      if (!url) return label;
      return '<a href="' + escapeHtml(url) + '" target="_blank" rel="noopener noreferrer">' + label + "</a>";
    });
    out = out.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>").replace(/__([^_]+)__/g, "<strong>$1</strong>");
    out = out.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>").replace(/(^|\W)_([^_\s][^_]*)_(?=\W|$)/g, "$1<em>$2</em>");
    out = out.replace(/\u0000(\d+)\u0000/g, function (_, i) { return codes[Number(i)]; });
    return out;
  }

  function cells(line) {
    var t = line.trim().replace(/^\|/, "").replace(/\|$/, "");
    return t.split("|").map(function (c) { return c.trim(); });
  }

  function render(markdown) {
    var lines = escapeHtml(markdown || "").split(/\r?\n/);
    var html = [];
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      if (!line.trim()) { i++; continue; }
      var h = /^(#{1,6})\s+(.*)$/.exec(line);
      if (h) {
        var level = Math.min(6, h[1].length + 3); // card headings sit below the card summary
        html.push("<h" + level + ">" + inline(h[2]) + "</h" + level + ">");
        i++; continue;
      }
      if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1])) {
        var head = cells(line);
        var rows = [];
        i += 2;
        while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) { rows.push(cells(lines[i])); i++; }
        html.push("<table><thead><tr>" + head.map(function (c) { return "<th>" + inline(c) + "</th>"; }).join("") +
          "</tr></thead><tbody>" + rows.map(function (r) {
            return "<tr>" + r.map(function (c) { return "<td>" + inline(c) + "</td>"; }).join("") + "</tr>";
          }).join("") + "</tbody></table>");
        continue;
      }
      var listRe = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
      var m = listRe.exec(line);
      if (m) {
        var ordered = /\d/.test(m[1]);
        var items = [];
        while (i < lines.length && (m = listRe.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
          var item = m[2];
          i++;
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !listRe.test(lines[i])) { item += " " + lines[i].trim(); i++; }
          items.push("<li>" + inline(item) + "</li>");
        }
        html.push((ordered ? "<ol>" : "<ul>") + items.join("") + (ordered ? "</ol>" : "</ul>"));
        continue;
      }
      var para = [inline(line.replace(/\s{2,}$/, ""))];
      i++;
      while (i < lines.length && lines[i].trim() && !/^(#{1,6})\s/.test(lines[i]) && !listRe.test(lines[i]) &&
             !/^\s*\|.*\|\s*$/.test(lines[i])) {
        para.push(inline(lines[i].replace(/\s{2,}$/, "")));
        i++;
      }
      html.push("<p>" + para.join("<br>") + "</p>");
    }
    return html.join("");
  }

  return { render: render, escapeHtml: escapeHtml, safeUrl: safeUrl };
})();
