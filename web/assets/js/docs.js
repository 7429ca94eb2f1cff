// Starts Swagger UI on the API docs page (/schema) from our own copy of swagger-ui-dist;
// a script file rather than an inline one, so the page keeps a strict CSP.
/* global SwaggerUIBundle */
const root = document.getElementById("swagger-ui");
SwaggerUIBundle({
  url: root.dataset.spec,
  domNode: root,
  deepLinking: true,
  validatorUrl: null, // no badge fetched from a validator elsewhere
  tryItOutEnabled: false,
});
