import { test, expect } from "@playwright/test";
import { ADMIN, signIn } from "./signin";

test.describe("with JavaScript", () => {
  test("from the list to a repository's tags and history, client-side", async ({ page }) => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto("/repository/");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    await page.getByRole("link", { name: "acme/web" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web$/);
    const tags = page.locator("#tags tbody tr");
    await expect(tags.filter({ hasText: "v1.0.0" })).toContainText("locked");
    await expect(tags.filter({ hasText: "beta" })).toContainText(/in \d+ days?/);
    await page.getByRole("link", { name: "History" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\/history$/);
    await expect(page.locator("#tags tbody tr").filter({ hasText: "deleted" }).first()).toBeVisible();
    await expect(page.locator("#tags tbody tr").filter({ hasText: "restored" }).first()).toBeVisible();
    // One tag's history, from its name.
    await page.locator("#tags tbody tr").filter({ hasText: "moved" }).first().getByRole("link", { name: "latest" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\/history\?tag=latest$/);
    await expect(page.locator("#one-tag")).toContainText("The history of tag latest");
    // The heading follows the URL at once; the rows once the new page's data is in.
    await expect(page.locator("#tags tbody tr").filter({ hasNotText: "latest" })).toHaveCount(0);
    await expect(page.locator("#tags tbody tr").first()).toContainText("latest");
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    expect(errors).toEqual([]);
  });
});

test.describe("keyboard and clipboard, with JavaScript", () => {
  test("/ focuses the filter; j and k move between rows", async ({ page }) => {
    await page.goto("/repository/acme/web");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.locator("body").press("/");
    await expect(page.locator("main input[type=search]")).toBeFocused();
    await page.locator("main input[type=search]").press("Escape");
    await page.locator("main input[type=search]").evaluate((e) => (e as HTMLElement).blur());
    const rows = page.locator("#tags tbody tr");
    await page.keyboard.press("j");
    await expect(rows.nth(0).locator("a").first()).toBeFocused();
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await expect(rows.nth(2).locator("a").first()).toBeFocused();
    await page.keyboard.press("k");
    await expect(rows.nth(1).locator("a").first()).toBeFocused();
    // Enter follows the focused row's link.
    const name = (await rows.nth(1).locator("a").first().innerText()).trim();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(new RegExp(`/repository/acme/web/tag/${name.replace(/\./g, "\\.")}$`));
  });

  test("copy buttons put the digest and the pull commands on the clipboard", async ({ browser }) => {
    const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
    const page = await context.newPage();
    await page.goto("/repository/acme/web/tag/latest");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    const pull = await page.locator("#pull-digest").inputValue();
    await page.getByRole("button", { name: "Copy the pull command by digest" }).click();
    await expect(page.getByRole("button", { name: "Copy the pull command by digest" })).toHaveText("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pull);
    await page.goto("/repository/acme/web");
    const row = page.locator("#tags tbody tr").filter({ hasText: "latest" }).first();
    await row.getByRole("button", { name: "Copy the manifest digest of latest" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pull.split("@")[1]);
    await context.close();
  });
});

test.describe("live, with JavaScript", () => {
  test("a tag pushed or deleted elsewhere shows up and goes away without a reload", async ({ page, request }) => {
    const auth = { Authorization: "Basic " + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString("base64") };
    const api = "/api/v1/repository/acme/web/tag";
    const latest = await (await request.get(`${api}/?specificTag=latest&onlyActiveTags=true`, { headers: auth })).json();
    const digest = latest.tags[0].manifest_digest;
    await page.goto("/repository/acme/web");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const rows = page.locator("#tags tbody tr");
    await expect(rows.filter({ hasText: "live-e2e" })).toHaveCount(0);
    const put = await request.put(`${api}/live-e2e`, { headers: auth, data: { manifest_digest: digest } });
    expect(put.status()).toBe(201);
    await expect(rows.filter({ hasText: "live-e2e" })).toHaveCount(1, { timeout: 5_000 });
    const del = await request.delete(`${api}/live-e2e`, { headers: auth });
    expect(del.status()).toBe(204);
    await expect(rows.filter({ hasText: "live-e2e" })).toHaveCount(0, { timeout: 5_000 });
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  });
});

test.describe("restore, with JavaScript", () => {
  test("undoes a move from its event in place, with a message", async ({ page }) => {
    await signIn(page, "/repository/library/alpine/history");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const rows = page.locator("#tags tbody tr");
    const moved = rows.filter({ hasText: "moved" }).first();
    await expect(moved).toContainText("latest");
    const before = await rows.count();
    // A move's Restore points the tag back at the digest it had before.
    const from = (await moved.locator("td").nth(1).locator("code").innerText()).trim();
    await moved.getByRole("button", { name: "Restore" }).click();
    await expect(page.getByRole("status")).toContainText(/Restored latest to sha256:/);
    await expect(rows.first()).toContainText("restored");
    await expect(rows.first().locator("td").nth(2)).toContainText(from);
    await expect(rows).toHaveCount(before + 1);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("tags filter by name and page through the history", async ({ page }) => {
    await page.goto("/repository/acme/web");
    await page.locator("#tag-filter").fill("v1.");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\?filter=v1\.&sort=$/);
    const rows = page.locator("#tags tbody tr");
    await expect(rows).toHaveCount(3);
    await expect(rows.filter({ hasText: "v1.2.0" })).toBeVisible();
    await page.goto("/repository/acme/tools/builder/history");
    await expect(page.locator("#tags tbody tr")).toHaveCount(1);
    await expect(page.locator("#tags tbody tr")).toContainText("created");
    await expect(page.getByRole("heading", { name: "acme/tools/builder" })).toBeVisible();
    // One tag's history: its events only, from the tag's page.
    await page.goto("/repository/acme/web/tag/latest");
    await page.getByRole("link", { name: "The history of this tag" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\/history\?tag=latest$/);
    const events = page.locator("#tags tbody tr");
    await expect(events.filter({ hasText: "moved" }).first()).toBeVisible();
    await expect(events.filter({ hasText: "restored" }).first()).toBeVisible();
    expect(await events.filter({ hasNotText: "latest" }).count()).toBe(0);
  });

  test("an index's row expands to its platforms", async ({ page }) => {
    await signIn(page, "/repository/acme/api");
    const row = page.locator("#tags tbody tr").filter({ hasText: "stable" });
    await expect(row.getByText("linux/arm64")).toBeHidden();
    await row.getByText("2 platforms").click();
    await expect(row.getByText("linux/arm64")).toBeVisible();
    await expect(row.getByText("linux/amd64")).toBeVisible();
  });

  test("restore posts, redirects back and says what happened", async ({ page }) => {
    await signIn(page, "/repository/acme/web/history");
    const deleted = page.locator("#tags tbody tr").filter({ hasText: "deleted" }).first();
    await deleted.getByRole("button", { name: "Restore" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\/history\?msg=/);
    await expect(page.getByRole("status")).toBeVisible();
    await expect(page.getByRole("status")).toContainText(/Restored \S+ to sha256:/);
  });
});

test.describe("accounts", () => {
  test("anonymous visitors get no restore buttons and a sign-in prompt for private repositories", async ({ page }) => {
    await page.goto("/repository/acme/web/history");
    await expect(page.locator("#tags tbody tr").filter({ hasText: "deleted" }).first()).toBeVisible();
    await expect(page.getByRole("button", { name: "Restore" })).toHaveCount(0);
    const resp = await page.goto("/repository/acme/api");
    expect(resp?.status()).toBe(401);
    await expect(page.getByRole("alert")).toContainText("Sign in to see it");
  });

  test("a wrong password is refused with a message, with JavaScript", async ({ page }) => {
    await page.goto("/signin");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("Invalid username, password or token");
  });

  test("sign in and out without JavaScript", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, "/repository/acme/api");
    await expect(page.getByRole("heading", { name: "acme/api" })).toBeVisible();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("status")).toContainText("Signed out");
    await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
    await context.close();
  });
});

test.describe("activity", () => {
  test("the audit records page filters by action, without JavaScript", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, "/repository/acme/web/logs");
    await expect(page.locator("#audit tbody tr").first()).toBeVisible();
    await page.locator("#audit-action").selectOption("move_tag");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/\/repository\/acme\/web\/logs\?action=move_tag/);
    const rows = page.locator("#audit tbody tr");
    await expect(rows.first()).toContainText("move_tag");
    expect(await rows.filter({ hasNotText: "move_tag" }).count()).toBe(0);
    await context.close();
  });

  test("a time range narrows the records, and the namespace's page spans its repositories, without JavaScript", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, "/repository/acme/web/logs");
    await page.locator("#audit-until").fill("2001-01-01");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/until=2001-01-01/);
    await expect(page.getByText("No record matches this filter.")).toBeVisible();
    await page.getByRole("link", { name: "Activity in every repository of acme" }).click();
    await expect(page).toHaveURL(/\/namespace\/acme\/logs$/);
    await expect(page.getByRole("heading", { name: "Activity in acme" })).toBeVisible();
    await expect(page.getByRole("columnheader", { name: "Repository" })).toBeVisible();
    await page.locator("#audit-since").fill("2001-01-01");
    await page.locator("#audit-action").selectOption("create_tag");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/since=2001-01-01/);
    const rows = page.locator("#audit tbody tr");
    await expect(rows.first()).toBeVisible();
    expect(await rows.filter({ hasNotText: "create_tag" }).count()).toBe(0);
    await expect(page.locator("#audit")).toContainText("tools/builder");
    await context.close();
  });
});

test.describe("settings, with JavaScript", () => {
  test("a policy pattern shows the tags it would lock as it is typed, then saves in place", async ({ page }) => {
    await signIn(page, "/repository/acme/web/settings");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    await page.locator("#policy-pattern").pressSequentially("beta|latest");
    const result = page.locator("#policy-preview-result");
    await expect(result).toContainText("2 current tags would be locked");
    await expect(result.locator("code")).toHaveText(["beta", "latest"]);
    await result.getByRole("button", { name: "Save policy" }).click();
    await expect(page.getByRole("status")).toContainText("Saved the policy beta|latest");
    await expect(page.locator("#policies")).toContainText("beta|latest");
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    await page.getByRole("link", { name: "Tags" }).click();
    await expect(page.locator("#tags tbody tr").filter({ hasText: "beta" })).toContainText("locked");
  });
});

test.describe("tag page, with JavaScript", () => {
  test("labels, lock, refused delete, unlock and expiration, in place", async ({ page }) => {
    await signIn(page, "/repository/acme/tools/builder/tag/latest");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    // An invalid key: the SPEC's message next to the form.
    await page.getByLabel("Key").fill("Not Valid");
    await page.getByLabel("Value").fill("x");
    await page.getByRole("button", { name: "Add label" }).click();
    await expect(page.locator("#label-error")).toContainText("Invalid label key");
    // A valid one appears in the table, and can be deleted.
    await page.getByLabel("Key").fill("org.example.owner");
    await page.getByLabel("Value").fill("<b>ops</b>");
    await page.getByRole("button", { name: "Add label" }).click();
    const row = page.locator("#labels tbody tr").filter({ hasText: "org.example.owner" });
    await expect(row).toContainText("<b>ops</b>");
    await row.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("status")).toContainText("Deleted the label org.example.owner");
    await expect(row).toHaveCount(0);
    // Lock; a delete is refused with the 409 message; unlock.
    await page.getByRole("button", { name: "Lock (make immutable)" }).click();
    await expect(page.getByRole("status")).toContainText("Locked latest");
    await page.getByRole("button", { name: "Delete tag" }).click();
    await expect(page.getByRole("alert").first()).toContainText("Cannot delete immutable tag 'latest'");
    await page.getByRole("button", { name: "Unlock" }).click();
    await expect(page.getByRole("status")).toContainText("Unlocked latest");
    // Expiration preset, then cleared.
    await page.getByRole("button", { name: "1 week" }).click();
    await expect(page.getByRole("status")).toContainText("latest expires at");
    await page.getByRole("button", { name: "Never expire" }).click();
    await expect(page.getByRole("status")).toContainText("latest never expires");
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  });
});

test.describe("bulk changes", () => {
  test("select two tags and clear their expiration, lock them, fail to delete them, in place", async ({ page, request }) => {
    await signIn(page, "/repository/acme/api");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const rows = page.locator("#tags tbody tr");
    const apply = async (action: string, tags: string[]) => {
      for (const t of tags) await page.getByLabel(`Select ${t}`, { exact: true }).check();
      await page.locator("#bulk-action").selectOption({ label: action });
      await page.getByRole("button", { name: "Apply" }).click();
    };
    // The images expire by label, and an expiring tag cannot be locked: clear, then lock.
    await apply("Never expire", ["pr-101", "pr-102"]);
    await expect(page.getByRole("status")).toContainText(/Set to never expire: (pr-101, pr-102|pr-102, pr-101)/);
    await expect(rows.filter({ hasText: "pr-101" })).toContainText("never");
    await apply("Lock (immutable)", ["pr-101", "pr-102"]);
    await expect(page.getByRole("status")).toContainText(/Locked (pr-101, pr-102|pr-102, pr-101)/);
    await expect(rows.filter({ hasText: "pr-101" })).toContainText("locked");
    await expect(rows.filter({ hasText: "pr-102" })).toContainText("locked");
    await apply("Delete", ["pr-101", "pr-102"]);
    const refusal = /Nothing was changed\. pr-10[12]: Cannot delete immutable tag/;
    await expect(page.getByRole("alert")).toContainText(refusal);
    await expect(rows.filter({ hasText: "pr-102" })).toBeVisible();
    // A tag pushed elsewhere refreshes the page in place; the refusal stays on it.
    const auth = { Authorization: "Basic " + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString("base64") };
    const api = "/api/v1/repository/acme/api/tag";
    const pr101 = await (await request.get(`${api}/?specificTag=pr-101&onlyActiveTags=true`, { headers: auth })).json();
    const put = await request.put(`${api}/live-keep`, { headers: auth, data: { manifest_digest: pr101.tags[0].manifest_digest } });
    expect(put.status()).toBe(201);
    await expect(rows.filter({ hasText: "live-keep" })).toHaveCount(1, { timeout: 5_000 });
    await expect(page.getByRole("alert")).toContainText(refusal);
    expect((await request.delete(`${api}/live-keep`, { headers: auth })).status()).toBe(204);
    await expect(rows.filter({ hasText: "live-keep" })).toHaveCount(0, { timeout: 5_000 });
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  });

  test("a deleted tag comes back with Undo, and a restore is taken back the same way", async ({ page, request }) => {
    const auth = { Authorization: "Basic " + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString("base64") };
    const api = "/api/v1/repository/acme/web/tag";
    const latest = await (await request.get(`${api}/?specificTag=latest&onlyActiveTags=true`, { headers: auth })).json();
    const digest = latest.tags[0].manifest_digest;
    expect((await request.put(`${api}/undo-e2e`, { headers: auth, data: { manifest_digest: digest } })).status()).toBe(201);
    await signIn(page, "/repository/acme/web");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const rows = page.locator("#tags tbody tr");
    await page.getByLabel("Select undo-e2e", { exact: true }).check();
    await page.locator("#bulk-action").selectOption({ label: "Delete" });
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(rows.filter({ hasText: "undo-e2e" })).toHaveCount(0);
    const bar = page.locator("#undo");
    await expect(bar).toContainText("Deleted undo-e2e");
    await bar.getByRole("button", { name: "Undo" }).click();
    await expect(bar).toContainText("Undone: Deleted undo-e2e");
    await expect(rows.filter({ hasText: "undo-e2e" })).toHaveCount(1);
    // In the tag's history the undo reads as a restore; a Restore there is offered back the same way.
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    await page.goto("/repository/acme/web/history?tag=undo-e2e");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const events = page.locator("#tags tbody tr");
    await expect(events.first()).toContainText("restored");
    const before = await events.count();
    await events.getByRole("button", { name: "Restore", exact: true }).first().click();
    await expect(page.getByRole("status")).toContainText("Restored undo-e2e");
    await expect(events).toHaveCount(before + 1);
    await page.locator("#undo").getByRole("button", { name: "Undo" }).click();
    await expect(page.locator("#undo")).toContainText("Undone: Restored undo-e2e");
    await expect(events).toHaveCount(before + 2);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  });

  test("Undo refuses to take back a delete when the tag was pushed again meanwhile", async ({ page, request }) => {
    const auth = { Authorization: "Basic " + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString("base64") };
    const api = "/api/v1/repository/acme/web/tag";
    const active = (await (await request.get(`${api}/?onlyActiveTags=true&limit=100`, { headers: auth })).json()).tags;
    const first = active[0].manifest_digest;
    const other = active.find((t: any) => t.manifest_digest !== first).manifest_digest;
    expect((await request.put(`${api}/meanwhile`, { headers: auth, data: { manifest_digest: first } })).status()).toBe(201);
    await signIn(page, "/repository/acme/web");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    const rows = page.locator("#tags tbody tr");
    await page.getByLabel("Select meanwhile", { exact: true }).check();
    await page.locator("#bulk-action").selectOption({ label: "Delete" });
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(rows.filter({ hasText: "meanwhile" })).toHaveCount(0);
    // Someone else pushes the tag again before the Undo.
    expect((await request.put(`${api}/meanwhile`, { headers: auth, data: { manifest_digest: other } })).status()).toBe(201);
    await page.locator("#undo").getByRole("button", { name: "Undo" }).click();
    await expect(page.locator("#undo")).toContainText("Could not undo; nothing was changed. meanwhile: Tag meanwhile has changed since");
    const now = (await (await request.get(`${api}/?specificTag=meanwhile&onlyActiveTags=true`, { headers: auth })).json()).tags;
    expect(now.map((t: any) => t.manifest_digest)).toEqual([other]);
  });

  test("without JavaScript: all or nothing, then the one that may go", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, "/repository/acme/api");
    await page.getByLabel("Select pr-103", { exact: true }).check();
    await page.getByLabel("Select 2.3", { exact: true }).check();
    await page.locator("#bulk-action").selectOption({ label: "Delete" });
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByRole("alert")).toBeVisible();
    await expect(page.getByRole("alert")).toContainText("2.3: Cannot delete immutable tag");
    await expect(page.locator("#tags tbody tr").filter({ hasText: "pr-103" })).toBeVisible();
    await page.getByLabel("Select pr-103", { exact: true }).check();
    await page.locator("#bulk-action").selectOption({ label: "Delete" });
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByRole("status")).toBeVisible();
    await expect(page.getByRole("status")).toContainText("Deleted pr-103");
    await expect(page.locator("#tags tbody tr").filter({ hasText: "pr-103" })).toHaveCount(0);
    await context.close();
  });
});

test.describe("history pager, with JavaScript", () => {
  test("Next and Previous swap the pages in, found from the rows shown (a cursor)", async ({ page, request }) => {
    const auth = { Authorization: "Basic " + Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString("base64") };
    const api = "/api/v1/repository/library/alpine/tag";
    const latest = await (await request.get(`${api}/?specificTag=latest&onlyActiveTags=true`, { headers: auth })).json();
    const names = Array.from({ length: 110 }, (_, i) => `page-e2e-${i}`);
    for (const name of names) {
      expect((await request.put(`${api}/${name}`, { headers: auth, data: { manifest_digest: latest.tags[0].manifest_digest } })).status()).toBe(201);
    }
    await page.goto("/repository/library/alpine/history");
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    await page.evaluate(() => ((window as any).__noReload = true));
    const first = page.locator("#tags tbody tr").first().locator("td.tag-name");
    const pageOne = await first.innerText();
    await page.getByRole("link", { name: "Next →" }).click();
    await expect(page).toHaveURL(/\/history\?page=2&after=\d+$/);
    await expect(page.locator(".pager")).toContainText("Page 2");
    await expect(first).not.toHaveText(pageOne);
    const pageTwo = await first.innerText();
    await page.getByRole("link", { name: "Next →" }).click();
    await expect(page).toHaveURL(/\/history\?page=3&after=\d+$/);
    await expect(first).not.toHaveText(pageTwo);
    await page.getByRole("link", { name: "← Previous" }).click();
    await expect(page).toHaveURL(/\/history\?page=2&before=\d+$/);
    await expect(first).toHaveText(pageTwo);
    await page.getByRole("link", { name: "← Previous" }).click();
    await expect(page).toHaveURL(/\/history$/);
    await expect(first).toHaveText(pageOne);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    for (const name of names) {
      expect((await request.delete(`${api}/${name}`, { headers: auth })).status()).toBe(204);
    }
  });
});
