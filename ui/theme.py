"""Look and feel: a calm theme with system fonts (nothing fetched from the internet) and a few status styles."""
from __future__ import annotations

import gradio as gr

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          font=SYSTEM_FONTS, font_mono=MONO_FONTS)


CSS = """
.tc-header h1 { margin-bottom: 0.1em; }
.tc-header p { margin-top: 0; opacity: 0.8; }
.tc-banner { padding: 12px 16px; border-radius: 10px; font-size: 1.02em; border: 1px solid transparent; }
.tc-banner[data-state="none"] { background: var(--block-background-fill); border-color: var(--border-color-primary); }
.tc-banner[data-state="queued"] { background: #fff7e6; border-color: #f5c26b; color: #7a4b00; }
.tc-banner[data-state="running"] { background: #eef2ff; border-color: #a5b4fc; color: #312e81; }
.tc-banner[data-state="finished"] { background: #ecfdf5; border-color: #6ee7b7; color: #065f46; }
.tc-banner[data-state="cancelled"], .tc-banner[data-state="interrupted"] { background: #f8fafc; border-color: #cbd5e1; color: #334155; }
.tc-banner[data-state="failed"] { background: #fef2f2; border-color: #fca5a5; color: #7f1d1d; }
.tc-progress { margin: 2px 0 4px 0; }
.tc-bar { height: 10px; border-radius: 6px; background: var(--neutral-200); overflow: hidden; }
.tc-fill { height: 100%; background: var(--primary-500); transition: width 0.6s ease; }
.tc-progress[data-state="finished"] .tc-fill { background: #10b981; }
.tc-progress[data-state="failed"] .tc-fill { background: #ef4444; }
.tc-progress-text { font-variant-numeric: tabular-nums; font-size: 0.92em; margin-top: 4px; opacity: 0.85; }
.tc-stage { margin-left: 8px; font-style: italic; opacity: 0.8; }
.tc-settings { font-size: 0.85em; margin-top: 2px; opacity: 0.7; }
.tc-warn { background: #fff7e6; border: 1px solid #f5c26b; color: #7a4b00; padding: 10px 14px; border-radius: 10px; }
.tc-warn ul { margin: 6px 0 0 0; }
.tc-ok { background: #ecfdf5; border: 1px solid #6ee7b7; color: #065f46; padding: 10px 14px; border-radius: 10px; }
.tc-blocked { background: #fef2f2; border: 1px solid #fca5a5; color: #7f1d1d; padding: 10px 14px; border-radius: 10px; }
.tc-ready { background: #ecfdf5; border: 1px solid #6ee7b7; color: #065f46; padding: 10px 14px; border-radius: 10px; }
.tc-note { font-size: 0.9em; opacity: 0.8; }
/* Dropdowns: the text stops before the arrow ("(defaul‡t)" otherwise) and a long value ends in an ellipsis. */
.gradio-container .secondary-wrap input[role="combobox"] { padding-right: 26px; text-overflow: ellipsis; }
.gradio-container .secondary-wrap .icon-wrap { pointer-events: none; }
.tc-estimate { font-size: 0.9em; margin: 2px 0 6px 0; opacity: 0.85; }
@media (prefers-color-scheme: dark) {
  .dark .tc-banner[data-state="running"] { background: #1e1b4b; color: #c7d2fe; }
  .dark .tc-banner[data-state="finished"], .dark .tc-ok, .dark .tc-ready { background: #052e2b; color: #a7f3d0; }
  .dark .tc-banner[data-state="queued"], .dark .tc-warn { background: #3b2a06; color: #fde68a; }
  .dark .tc-banner[data-state="failed"], .dark .tc-blocked { background: #3b0d0d; color: #fecaca; }
}
"""
