/** @jsxImportSource preact */

/** The two pages' shared header: where you are, and the way to the other page. */
export function PageHeader({ current }: { current: "upload" | "operators" }) {
  return (
    <header class="page-header">
      <p class="brand">Orders admin</p>
      <nav aria-label="Pages">
        <a href="/" aria-current={current === "upload" ? "page" : undefined}>
          Upload
        </a>
        <a href="/operators" aria-current={current === "operators" ? "page" : undefined}>
          Operators
        </a>
      </nav>
    </header>
  );
}
