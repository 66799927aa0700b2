// Starts Swagger UI on /docs. A separate file because the Content-Security-Policy forbids inline
// scripts; the spec address comes from the page (data-spec), so nothing is fetched from elsewhere.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: node.getAttribute("data-spec"),
    domNode: node,
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: true
  });
})();
