// Sign-up: POST /api/auth/register; the token it answers is kept, then the dashboard.
import { adoptAccount, post } from "../api.js";
import { bindForm } from "../forms.js";
import { nextPath, setUpPage } from "../layout.js";

setUpPage();
bindForm(document.getElementById("register-form"), async (values) => {
  const body = { email: values.email.trim(), username: values.username.trim(), password: values.password };
  if (values.displayName.trim()) body.displayName = values.displayName.trim();
  const answer = await post("/api/auth/register", body);
  adoptAccount({ token: answer.token, user: answer.user });
  location.assign(nextPath("/dashboard"));
});
