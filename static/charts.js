// Draws every chart on the page with the app's own Vega bundle (no CDN).
// Each chart's Vega-Lite spec sits in a <script type="application/json" data-chart="ID"> element;
// Vega's expression interpreter (Vega-Embed's ast option) is used instead of generated code, so the page needs no
// 'unsafe-eval' in its Content-Security-Policy, and no style is injected (app.css styles the tooltip).
(function () {
  "use strict";

  function readJSON(element) {
    return element ? JSON.parse(element.textContent) : {};
  }

  // The charts are built 520 px wide for a desktop. On a narrow screen (a phone) a chart wider than its
  // box is drawn again, first with its legends below the plot (and without its title), then with the plot narrowed by what still
  // overflows, so it fits without scrolling and keeps its text size.
  var MIN_WIDTH = 140;

  function plotWidth(spec) {
    var part = typeof spec.width === "number" ? spec : spec.spec;
    return part && typeof part.width === "number" ? part : null;
  }

  function legendsBelow(spec) {
    delete spec.title; // the figure's heading and hint above the chart say the same, wrapped to the screen
    spec.config = spec.config || {};
    spec.config.legend = Object.assign({}, spec.config.legend, { orient: "bottom", direction: "vertical" });
  }

  function embed(target, spec, options, attempt) {
    return window.vegaEmbed(target, spec, options).then(function (result) {
      var svg = target.querySelector("svg");
      var over = svg ? svg.getBoundingClientRect().width - target.clientWidth : 0;
      var part = plotWidth(spec);
      if (over <= 1 || attempt >= 2) {
        return result;
      }
      if (attempt === 0) {
        legendsBelow(spec);
      } else if (part && part.width > MIN_WIDTH) {
        part.width = Math.max(MIN_WIDTH, Math.floor(part.width - over - 4));
      } else {
        return result;
      }
      result.finalize();
      return embed(target, spec, options, attempt + 1);
    });
  }

  function draw() {
    var locale = readJSON(document.getElementById("vega-locale"));
    var sources = document.querySelectorAll("script[type='application/json'][data-chart]");
    Array.prototype.forEach.call(sources, function (source) {
      var target = document.getElementById(source.getAttribute("data-chart"));
      var options = {
        renderer: "svg",
        actions: false,
        defaultStyle: false,
        ast: true,
        tooltip: { disableDefaultStyle: true },
      };
      if (locale.formatLocale) {
        options.formatLocale = locale.formatLocale;
        options.timeFormatLocale = locale.timeFormatLocale;
      }
      embed(target, readJSON(source), options, 0).then(
        function () {
          target.setAttribute("data-rendered", "true");
        },
        function (error) {
          target.setAttribute("data-rendered", "error");
          target.textContent = target.getAttribute("data-error") || "The chart could not be drawn; the table below has its data.";
          console.error(error);
        }
      );
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
