package browser

import (
	"context"
	"fmt"

	"github.com/chromedp/chromedp"
)

// Checks of what the page shows, computed in the browser from the live DOM
// and the computed styles. They run in the page's JavaScript context, so
// call them with scripts enabled.

// Contrast is the contrast ratio (WCAG 2.1, relative luminance) of one
// element's text against the first opaque background behind it.
type Contrast struct {
	Element string  `json:"element"`
	Text    string  `json:"text"`
	Ratio   float64 `json:"ratio"`
}

const contrastJS = `(() => {
  const parse = c => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const bg = el => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const out = [];
  for (const el of document.querySelectorAll('h1, h2, p, label, button, li, a, code, strong, input:not([type=hidden])')) {
    const text = (el.value || el.textContent || '').trim();
    if (!text && el.tagName !== 'INPUT') continue;
    const fg = parse(getComputedStyle(el).color), b = bg(el);
    if (!fg) continue;
    const l1 = lum(fg), l2 = lum(b);
    out.push({element: el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''),
      text: text.slice(0, 40), ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)});
  }
  return out;
})()`

// Contrasts measures every text element of the page.
func Contrasts(ctx context.Context) ([]Contrast, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]Contrast](contrastJS))
}

const unlabelledJS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const byFor = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    const label = byFor || el.closest('label');
    if (!label || !label.textContent.trim()) out.push(el.name || el.id || el.tagName);
  }
  for (const el of document.querySelectorAll('button')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) out.push('button');
  }
  return out;
})()`

// Unlabelled lists the form controls that have no visible label.
func Unlabelled(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](unlabelledJS))
}

// Alert describes the page's alert region.
type Alert struct {
	Found    bool   `json:"found"`
	Role     string `json:"role"`
	Label    string `json:"label"` // its accessible name, from aria-labelledby
	Text     string `json:"text"`
	BeforeOf bool   `json:"before_form"` // it comes before the form
}

const alertJS = `(() => {
  const el = document.querySelector('.alert');
  if (!el) return {found: false};
  const ids = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean);
  const label = ids.map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
  const form = document.querySelector('form');
  return {found: true, role: el.getAttribute('role') || '', label, text: el.textContent.trim(),
    before_form: !form || !!(el.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING)};
})()`

// AlertRegion returns the page's alert region, if it has one.
func AlertRegion(ctx context.Context) (Alert, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[Alert](alertJS))
}

// Focus is the focused element and its outline.
type Focus struct {
	Name         string  `json:"name"` // name or id of the focused element
	FocusVisible bool    `json:"focus_visible"`
	OutlineStyle string  `json:"outline_style"`
	OutlineWidth float64 `json:"outline_width"` // CSS px
}

const focusJS = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {name: ''};
  const s = getComputedStyle(el);
  return {name: el.name || el.id || el.tagName.toLowerCase(), focus_visible: el.matches(':focus-visible'),
    outline_style: s.outlineStyle, outline_width: parseFloat(s.outlineWidth) || 0};
})()`

// Focused describes the focused element and its focus ring.
func Focused(ctx context.Context) (Focus, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[Focus](focusJS))
}

// Viewport reports whether the page fits a width without horizontal
// scrolling, and the width of its widest element.
func Viewport(ctx context.Context) (fits bool, scrollWidth int, err error) {
	w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		return false, 0, err
	}
	if len(w) != 2 {
		return false, 0, fmt.Errorf("viewport: %v", w)
	}
	return w[0] <= w[1], w[0], nil
}
