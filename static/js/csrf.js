// CSRF for htmx and the pages' scripts, loaded on every page. They send the csrftoken cookie's value in
// X-CSRFToken (Django accepts the cookie's secret as it is), so a page needs no token of its own and is not
// re-masked per view; forms that post without JavaScript still carry a token in their hidden field.
(function () {
  "use strict";

  function csrfToken() {
    var found = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return found ? decodeURIComponent(found[1]) : "";
  }

  window.commsLabCsrfToken = csrfToken;
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
})();
