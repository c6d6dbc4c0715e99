import { test, expect, type Page } from "@playwright/test";
import * as path from "node:path";
import { signIn } from "./signin";

// axe-core (npm) injected into every page: no serious or critical violation anywhere. Each page
// is also saved as a screenshot under test-results/screenshots/.
const axePath = path.join(__dirname, "..", "node_modules", "axe-core", "axe.min.js");

const pages = [
  ["repositories", "/repository/"],
  ["tags", "/repository/acme/web"],
  ["history", "/repository/acme/web/history"],
  ["history-as-of", "/repository/acme/web/history?at=2030-01-01T00:00"],
  ["history-one-tag", "/repository/acme/web/history?tag=latest"],
  ["activity", "/repository/acme/web/logs"],
  ["namespace-activity", "/namespace/acme/logs"],
  ["settings", "/repository/acme/web/settings?pattern=v1.*"],
  ["tag", "/repository/acme/web/tag/latest"],
  ["index-tag", "/repository/acme/api/tag/2.3"],
  ["api-docs", "/api/docs"],
  ["not-found", "/no/such/page"],
] as const;

async function audit(page: Page, name: string) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n: any) => n.target.join(" ")).slice(0, 3) }));
  });
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
  const serious = result.filter((v: any) => v.impact === "serious" || v.impact === "critical");
  expect(serious, `${name}: ${JSON.stringify(serious)}`).toEqual([]);
}

test("every page passes axe (signed in) and is saved as a screenshot", async ({ page }) => {
  await signIn(page, "/repository/");
  for (const [name, url] of pages) {
    await page.goto(url);
    await expect(page.locator("main")).toBeVisible();
    await audit(page, name);
  }
});

test("the sign-in page and an anonymous refusal pass axe", async ({ page }) => {
  await page.goto("/signin");
  await audit(page, "signin");
  await page.goto("/repository/acme/api");
  await audit(page, "refusal");
});
