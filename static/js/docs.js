// The API docs page: Swagger UI (a classic script loaded before this module) renders the
// server's OpenAPI document. Requests made with "Try it out" carry the session's CSRF token,
// as every write from these pages does; nothing is asked of any other host.
import "./common.js";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content;

window.ui = window.SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // the badge would ask validator.swagger.io about our document
  defaultModelsExpandDepth: 0,
  docExpansion: "list",
  tryItOutEnabled: false,
  requestInterceptor: (req) => {
    if (csrf) req.headers["X-CSRF-Token"] = csrf;
    return req;
  },
});
