/* The demo Nectain page's own behaviour (not part of the panel).
 * The "simulate" buttons produce the kinds of errors the panel captures and offers to share with support.
 * The search box shows the pattern for any page: offer what the user searched for to the assistant,
 * with Nectarine.ask(text) (a link to #nectarine=<text> does the same from anywhere). */
(function () {
  var params = new URLSearchParams(location.search);
  var view = params.get('view') || 'orders';
  document.getElementById('page-title').textContent = view.charAt(0).toUpperCase() + view.slice(1);
  var current = document.getElementById('nav-' + view);
  if (current) current.setAttribute('aria-current', 'page');

  document.getElementById('simulate-error').addEventListener('click', function () {
    throw new Error('Demo: Cannot read properties of undefined (reading "lines") in OrderGrid.render');
  });
  document.getElementById('simulate-rejection').addEventListener('click', function () {
    Promise.reject(new Error('Demo: GET /api/orders/10425 failed with 500 (AUTH-1003)'));
  });
  document.getElementById('simulate-console').addEventListener('click', function () {
    console.error('Demo: order SO-10425 could not be saved: validation failed');
  });

  var search = document.getElementById('search');
  if (search) {
    var results = document.getElementById('search-results');
    var ask = document.getElementById('ask-nectarine');
    var update = function () {
      var q = search.value.trim();
      results.hidden = !q;
      document.getElementById('search-none').textContent = 'No orders or customers match “' + q + '”.';
      ask.textContent = 'Ask Nectarine about “' + q + '”';
    };
    search.addEventListener('input', update);
    document.getElementById('search-form').addEventListener('submit', function (e) { e.preventDefault(); update(); ask.focus(); });
    ask.addEventListener('click', function () {
      var q = search.value.trim();
      search.value = ''; results.hidden = true;
      if (q && window.Nectarine) window.Nectarine.ask(q);
    });
    document.addEventListener('keydown', function (e) { if (e.key === 'Escape') results.hidden = true; });
  }
  // The host app tells the panel where the user is (deferred scripts run before DOMContentLoaded).
  document.addEventListener('DOMContentLoaded', function () {
    if (window.Nectarine) window.Nectarine.setContext({ page: view });
  });
})();
