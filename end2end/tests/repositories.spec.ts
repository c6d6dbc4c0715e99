import { test, expect, type Page } from "@playwright/test";
import { signIn } from "./signin";

// The demo has four repositories; acme/api is private, so anonymous visitors see three.

const rows = (page: Page) => page.locator("#repositories tbody tr");

test.describe("with JavaScript", () => {
  test("the repositories page hydrates without errors", async ({ page }) => {
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto("/");
    await expect(rows(page)).toHaveCount(3);
    // Only the island sets this, in the browser: the server always renders "false".
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    expect(errors).toEqual([]);
  });

  test("typing in the filter updates the list in place", async ({ page }) => {
    await signIn(page, "/repository/");
    await expect(rows(page)).toHaveCount(4);
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "true");
    // A full page load would drop this marker; client-side navigation keeps it.
    await page.evaluate(() => ((window as any).__noReload = true));
    await page.locator("#repo-filter").pressSequentially("alp");
    await expect(rows(page)).toHaveCount(1);
    await expect(rows(page).first()).toContainText("library/alpine");
    await expect(page).toHaveURL(/\/repository\/\?q=alp$/);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    await page.locator("#repo-filter").fill("");
    await expect(rows(page)).toHaveCount(4);
  });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the page is complete and the filter form posts", async ({ page }) => {
    await page.goto("/");
    await expect(rows(page)).toHaveCount(3);
    await expect(page.getByText("acme/", { exact: false }).first()).toBeVisible();
    await expect(page.locator("[data-hydrated]")).toHaveAttribute("data-hydrated", "false");
    await page.locator("#repo-filter").fill("acme");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/\/repository\/\?q=acme$/);
    await expect(rows(page)).toHaveCount(2);
    await expect(rows(page).filter({ hasText: "tools/builder" })).toBeVisible();
  });
});
