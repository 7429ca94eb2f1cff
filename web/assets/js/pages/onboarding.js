// Onboarding after a first external sign-in (an OIDC issuer such as Clerk put its token in
// this site's session): POST /api/auth/onboard with the username and profile.
import { adoptAccount, post, token } from "../api.js";
import { bindForm } from "../forms.js";
import { setUpPage } from "../layout.js";

const form = document.getElementById("onboarding-form");
const account = await setUpPage();
if (!token()) {
  document.getElementById("onboarding-intro").textContent =
    "Sign in with your identity provider first; this page finishes setting up an account it created.";
} else if (account?.onboarded) {
  location.replace("/dashboard");
} else if (account?.email && !form.username.value) {
  form.username.value = account.email.split("@")[0].toLowerCase().replace(/[^a-z0-9_]/g, "").slice(0, 25);
}

bindForm(form, async (values) => {
  const body = { username: values.username.trim() };
  for (const key of ["displayName", "avatar", "bio"]) {
    if (values[key].trim()) body[key] = values[key].trim();
  }
  const answer = await post("/api/auth/onboard", body);
  adoptAccount(answer);
  location.assign("/dashboard");
});
