// Forms: the API's problem `detail` shown beside the field it names, everything typed
// kept as it was, the first field in error focused.
import { ApiError } from "./api.js";

function errorSlot(form, input) {
  return input ? form.querySelector(`#${CSS.escape(input.id)}-error`) : null;
}

/** The control a problem's `field` names: by name, or listed in its data-field. */
function control(form, field) {
  if (!field) return null;
  const key = String(field).split(/[.[]/)[0];
  return form.querySelector(`[name="${CSS.escape(String(field))}"]`)
    || form.querySelector(`[name="${CSS.escape(key)}"]`)
    || form.querySelector(`[data-field~="${CSS.escape(key)}"]`);
}

export function clearProblems(form) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Shows an ApiError (or any error) on the form. */
export function showProblem(form, error) {
  clearProblems(form);
  const problem = error instanceof ApiError ? error.problem : { detail: String(error?.message || error) };
  const items = problem.errors?.length
    ? problem.errors.map((e) => ({ field: e.field, message: e.message }))
    : [{ field: problem.field, message: problem.detail }];
  let first = null;
  const general = [];
  for (const { field, message } of items) {
    const input = control(form, field);
    const slot = errorSlot(form, input);
    if (input && slot) {
      input.setAttribute("aria-invalid", "true");
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      first = first || input;
    } else {
      general.push(message);
    }
  }
  const box = form.querySelector(".form-error");
  if (general.length && box) box.textContent = general.join(" ");
  if (first) first.focus();
  else if (box) box.focus?.();
}

/**
 * Calls `submit(values, form)` on submit with the form's values (checkboxes as booleans,
 * files as File); a refusal is shown on the form and nothing typed is lost.
 */
export function bindForm(form, submit) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    const values = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "checkbox") values[el.name] = el.checked;
      else if (el.type === "file") values[el.name] = el.files[0] || null;
      else values[el.name] = el.value;
    }
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    buttons.forEach((b) => (b.disabled = true));
    form.setAttribute("aria-busy", "true");
    try {
      await submit(values, form);
    } catch (error) {
      showProblem(form, error);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      form.removeAttribute("aria-busy");
    }
  });
}

/** Sets a notice (role=status) on the form, e.g. "Saved". */
export function notice(form, text) {
  const box = form.querySelector(".notice");
  if (box) box.textContent = text;
}
