// The profile editor, /dashboard/profile: display name, username, bio, social links,
// theme, language, notification email (PUT /api/auth/profile), avatar and banner uploads
// (multipart POST /api/upload/avatar|banner). Refusals show beside their field.
import { adoptAccount, api, put } from "../api.js";
import { $, avatar } from "../dom.js";
import { bindForm, notice } from "../forms.js";
import { applyTheme, requireAccount } from "../layout.js";

const NETWORKS = ["twitch", "youtube", "x", "instagram", "tiktok", "discord", "github", "website"];
const account = await requireAccount();
const form = $("#profile-form");

function showPictures(me) {
  $("#avatar-preview").replaceWith(Object.assign(avatar(me.avatar, me.displayName), { id: "avatar-preview" }));
  const banner = $("#banner-preview");
  banner.hidden = !me.banner;
  if (me.banner) banner.src = me.banner;
}

function fillForm(me) {
  form.displayName.value = me.displayName || "";
  form.username.value = me.username || "";
  form.bio.value = me.bio || "";
  for (const network of NETWORKS) {
    form.elements[`socialLinks.${network}`].value = me.socialLinks?.[network] || "";
  }
  form.theme.value = me.theme || "dark";
  form.language.value = me.language || "en";
  form.notificationEmail.value = me.notificationEmail || "";
}

if (account) {
  fillForm(account);
  showPictures(account);
}

form.theme.addEventListener("change", () => applyTheme(form.theme.value)); // a preview

bindForm(form, async (v) => {
  const socialLinks = {};
  for (const network of NETWORKS) socialLinks[network] = v[`socialLinks.${network}`].trim();
  const body = {
    displayName: v.displayName.trim(), username: v.username.trim(), bio: v.bio,
    socialLinks, theme: v.theme, language: v.language.trim(),
    notificationEmail: v.notificationEmail.trim(),
  };
  const saved = await put("/api/auth/profile", body);
  adoptAccount(saved); // a rename comes with a new token
  applyTheme(saved.theme);
  notice(form, "Profile saved.");
});

const pictures = { avatar: account?.avatar || null, banner: account?.banner || null };
for (const kind of ["avatar", "banner"]) {
  const upload = $(`#${kind}-form`);
  bindForm(upload, async (v) => {
    const data = new FormData();
    if (v.file) data.append("file", v.file);
    // The upload is checked, stored and set on the profile in one call.
    const image = await api("POST", `/api/upload/${kind}`, { form: data });
    pictures[kind] = image.url;
    showPictures({ ...account, ...pictures });
    upload.reset();
    notice(upload, `${kind === "avatar" ? "Avatar" : "Banner"} uploaded.`);
  });
}
