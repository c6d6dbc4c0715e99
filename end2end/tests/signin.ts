import { expect, Page } from "@playwright/test";

export const ADMIN = { user: "admin", password: "e2e-admin-password" };

/** Signs in through the sign-in page (works with and without JavaScript), then goes to `next`. */
export async function signIn(page: Page, next: string, who = ADMIN) {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Username").fill(who.user);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("status")).toContainText(`Signed in as ${who.user}`);
}
