// A refusal from the API in the desk's words (ES module).
import { fill } from "./fill.js";

// The incident desk's and the new-incident form's (T: the desk's strings, #desk-text): explain(status, data,
// field) for any call, field naming the input a 422 is about; photoProblem(status, data) for a photo the server
// refused, or one an entry named that it did not take. state: the desk's (max_chars); photoLimits: state.photo.
export function deskRefusals(T, state, photoLimits) {
  function explain(status, data, field) {
    if (status === 401) return T.err_session;
    if (status === 403) return data.error === "csrf" ? T.err_csrf : T.err_forbidden;
    if (status === 409 && data.field === "incident") return T.err_closed;
    if (status === 409 && data.field === "entry") return T.err_retracted;
    if (status === 413) return fill(T.err_too_long, { max: state.max_chars });
    if (status === 422 && data.field === "label") return T.err_label;
    if (status === 422 && /^photos?\b/.test(data.field || "")) return photoProblem(status, data);
    if (status === 422) return fill(T.err_field, { field: field || data.field, message: data.message });
    if (status >= 500) return T.err_server;
    return fill(T.err_rejected, { message: data.message || status });
  }

  function photoProblem(status, data) {
    const code = data.error;
    const field = (data.field || "").replace(/^photos?(\[\d+\])?\.?/, "");
    if (status === 413 || code === "too_large") {
      return fill(T.err_photo_too_large, { max: Math.floor(photoLimits.max_bytes / 1048576) });
    }
    if (code === "unsupported_type") return T.err_photo_type;
    if (code === "not_an_image" || code === "empty") return T.err_photo_broken;
    if (code === "too_many_pixels") return T.err_photo_pixels;
    if (code === "too_many_uploads") return T.err_photo_rate;
    if (code === "busy") return T.err_photo_busy;
    if (field === "alt") return T.err_photo_alt;
    if (field === "credit") return T.err_photo_credit;
    if (field === "id") return T.err_photo_gone;
    if (data.field === "photos") return fill(T.err_photo_count, { max: photoLimits.max_per_entry });
    return fill(T.err_field, { field: data.field, message: data.message });
  }

  return { explain, photoProblem };
}

// The panels' and the sources page's (T: their strings, #sources-text): result is api()'s; form is where the
// field named in a 422 has its label.
export function explainRefusal(T, result, form) {
  const { status, data } = result;
  if (status === 403) return T.err_forbidden;
  if (status === 422 && data.field) {
    const input = form && form.querySelector(`[name="${data.field}"]`);
    const label = input ? input.closest("label").firstChild.textContent.trim() : data.field;
    return fill(T.err_field, { field: label, message: data.message });
  }
  return fill(T.err_rejected, { message: data.message || status });
}
