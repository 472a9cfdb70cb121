// Draws every chart on the page with the app's own Vega bundle (no CDN).
// Each chart's Vega-Lite spec sits in a <script type="application/json" data-chart="ID"> element;
// Vega's expression interpreter (Vega-Embed's ast option) is used instead of generated code, so the page needs no
// 'unsafe-eval' in its Content-Security-Policy, and no style is injected (app.css styles the tooltip).
(function () {
  "use strict";

  function readJSON(element) {
    return element ? JSON.parse(element.textContent) : {};
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
      window.vegaEmbed(target, readJSON(source), options).then(
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
