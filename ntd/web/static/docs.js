// Starts Swagger UI on /docs over the OpenAPI document (a file, not inline: the portal's
// Content-Security-Policy allows no inline script).
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
  });
});
