/* The console's keyboard shortcuts and its answers when the frontend cannot be reached. */
(function () {
  'use strict';

  var KEYS = {
    n: 'next', N: 'next', ArrowRight: 'next',
    p: 'previous', P: 'previous', ArrowLeft: 'previous',
    s: 'start', S: 'start',
    r: 'reveal', R: 'reveal',
    e: 'end', E: 'end'
  };

  // The moderation column: one key per action, on the question chosen (focused, or holding the
  // focused button), else on the first question of the list the action applies to.
  var QUESTION_KEYS = { a: 'approve', j: 'reject', o: 'on_air', f: 'off_air', t: 'answer' };
  var DEFAULT_LIST = { approve: 'pending', reject: 'pending', on_air: 'approved', off_air: 'on_air', answer: 'on_air' };
  function questionButton(action) {
    var active = document.activeElement;
    var chosen = active && active.closest ? active.closest('[data-question]') : null;
    var scope = chosen ? [chosen] : document.querySelectorAll('[data-status="' + DEFAULT_LIST[action] + '"]');
    for (var i = 0; i < scope.length; i++) {
      var button = scope[i].querySelector('[data-question-action="' + action + '"]');
      if (button && !button.disabled) return button;
    }
    return null;
  }

  document.addEventListener('keydown', function (evt) {
    if (evt.repeat || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    var t = evt.target;
    if (t && t.closest && t.closest('input, textarea, select, [contenteditable]')) return;
    var moderation = QUESTION_KEYS[evt.key.toLowerCase()];
    if (moderation) {
      var target = questionButton(moderation);
      if (!target) return;
      evt.preventDefault();
      target.click();
      return;
    }
    var action = KEYS[evt.key];
    if (!action) return;
    var button = document.querySelector('[data-shortcut="' + action + '"]');
    if (!button || button.disabled) return;
    evt.preventDefault();
    button.click();
  });

  function flash(text) {
    var area = document.getElementById('console-flash');
    if (!area) return;
    var p = document.createElement('p');
    p.className = 'flash flash-error';
    p.textContent = text;
    area.replaceChildren(p);
  }
  document.addEventListener('htmx:sendError', function () {
    flash('Le serveur de la console ne répond pas : votre commande n\u2019a pas été envoyée. Réessayez dans un instant.');
  });
  document.addEventListener('htmx:timeout', function () {
    flash('La commande a mis trop de temps : vérifiez l\u2019état affiché avant de recommencer.');
  });
})();
