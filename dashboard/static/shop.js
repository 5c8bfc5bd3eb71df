/* Demo shop buttons: each sends the Segment e-commerce event a real shop
 * would, through the remarket snippet loaded in the page head. */
(function () {
  'use strict';
  function props(card, qty) {
    var d = card.dataset;
    return { product_id: d.id, sku: d.id, name: d.title, brand: d.brand, category: d.category,
      price: parseFloat(d.price), currency: d.currency, quantity: qty };
  }
  function log(msg) {
    document.getElementById('log').textContent = msg;
    setTimeout(showId, 50);
  }
  function showId() {
    var id = '';
    try { id = localStorage.getItem('_rmaid') || ''; } catch (e) { /* private mode */ }
    document.getElementById('vid').textContent = id || '(not stored: tracking opted out or storage blocked)';
  }
  document.querySelectorAll('.product').forEach(function (card) {
    card.querySelector('.view').addEventListener('click', function () {
      remarket('track', 'Product Viewed', props(card, 1));
      log('Product Viewed: ' + card.dataset.title);
    });
    card.querySelector('.add').addEventListener('click', function () {
      remarket('track', 'Product Added', props(card, 1));
      log('Product Added: ' + card.dataset.title);
    });
    card.querySelector('.buy').addEventListener('click', function () {
      var p = props(card, 1);
      var order = 'web-' + Date.now().toString(36);
      remarket('track', 'Order Completed', { order_id: order, revenue: p.price, value: p.price, currency: p.currency, products: [p] });
      log('Order Completed: ' + order);
    });
  });
  showId();
})();
