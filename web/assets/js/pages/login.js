// Sign-in: POST /api/auth/login; the token it answers is kept, then where the visitor was going.
import { adoptAccount, post } from "../api.js";
import { bindForm } from "../forms.js";
import { nextPath, setUpPage } from "../layout.js";

setUpPage();
bindForm(document.getElementById("login-form"), async (values) => {
  const answer = await post("/api/auth/login", { email: values.email.trim(), password: values.password });
  adoptAccount({ token: answer.token, user: answer.user });
  location.assign(nextPath("/dashboard"));
});
