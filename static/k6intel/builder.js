// New test form: show only the fields that apply to the chosen body type and load profile.
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

  form.addEventListener('change', update);
  update();
})();
