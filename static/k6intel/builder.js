// New test form: show only the fields that apply to the chosen body type and load profile, and the test a run joins.
// Hidden fields keep their values, and a field with an error or a value is never hidden.
(function () {
  'use strict';
  const form = document.getElementById('builder-form');
  if (!form) return;
  const field = (id) => document.getElementById(id).closest('.field');
  const keep = (id) => document.getElementById(id).value.trim() !== '' || field(id).classList.contains('has-error');

  function update() {
    const bodyType = document.getElementById('id_body_type').value;
    const checked = form.querySelector('input[name=preset]:checked');
    const preset = checked ? checked.value : '';
    field('id_body').hidden = bodyType === 'none' && !keep('id_body');
    field('id_rate').hidden = preset !== 'breakpoint' && !keep('id_rate');
    field('id_stages').hidden = preset !== '' && !keep('id_stages');
  }

  // An empty test name stands for the method and the URL's path (runs/loadtests.default_test_name).
  function showTestDefault() {
    let path;
    try {
      path = new URL(document.getElementById('id_url').value.trim()).pathname || '/';
    } catch (error) {
      return;  // not a URL yet: the placeholder keeps saying what the default is made of
    }
    document.getElementById('id_test').placeholder = `${document.getElementById('id_method').value} ${path}`;
  }

  form.addEventListener('change', update);
  form.addEventListener('input', showTestDefault);
  update();
  showTestDefault();
})();
