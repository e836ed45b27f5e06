"""Jinja chat templates for the embedded tokenizers, token-identical to the `renderers` renderers.

Each template mirrors the hand-written renderer of the same family (renderers 0.1.12:
`glm45.py`, `qwen3.py`) text for text, so the chat-template path and the renderer path produce the
same token ids for the same conversation (tests/masks/test_mask_parity.py proves it over generated
conversations).

`{% generation %}` blocks cover exactly what a server samples after the generation prompt: the
tokens the renderer marks as sampled, the turn closers a template emits at the start of the *next*
message (GLM's `<|observation|>` and `<|user|>`), and GLM's `\n` after `<|assistant|>` (which
renderers 0.1.12 leaves unsampled although its generation prompt ends before it).
`strip_generation_markers` gives the same template without them, to exercise the fallback.

Literal text lives only inside `{{ '...' }}` expressions and every tag trims whitespace
(`{%- -%}`), so the template source can be laid out for reading without changing a byte of output.
"""

from __future__ import annotations

import re

GLM45_TOOLS_HEADER = (
    "\n# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
)
GLM45_TOOLS_FOOTER = (
    "</tools>\n\n"
    "For each function call, output the function name and arguments within the following XML "
    "format:\n<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n"
    "<arg_value>{arg-value-1}</arg_value>\n<arg_key>{arg-key-2}</arg_key>\n"
    "<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>"
)
QWEN3_TOOLS_HEADER = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>"
)
QWEN3_TOOLS_FOOTER = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


def _literal(text: str) -> str:
    """`text` as a jinja string literal (jinja unescapes backslash sequences in literals)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


# Reasoning may arrive as `reasoning_content` or inline as `<think>...</think>` in the content;
# both renderers split it the same way.
_SPLIT_REASONING = r"""
{%- set reasoning = '' -%}
{%- if m.reasoning_content is string -%}
  {%- set reasoning = m.reasoning_content -%}
{%- elif '</think>' in content -%}
  {%- set parts = content.split('</think>') -%}
  {%- set before = parts[0] -%}
  {%- if '<think>' in before -%}
    {%- set reasoning = before.split('<think>')[-1].lstrip('\n') -%}
  {%- else -%}
    {%- set reasoning = before.lstrip('\n') -%}
  {%- endif -%}
  {%- set reasoning = reasoning.rstrip('\n') -%}
  {%- set content = parts[1:] | join('</think>') -%}
  {%- set content = content.lstrip('\n') -%}
{%- endif -%}
{%- set tool_calls = m.tool_calls if m.tool_calls is defined and m.tool_calls else [] -%}
"""

_GLM45_TEMPLATE = r"""
{%- set thinking = enable_thinking if enable_thinking is defined else true -%}
{%- macro visible_text(content) -%}
  {%- if content is string -%}{{- content -}}
  {%- elif content is none -%}{{- 'None' -}}
  {%- elif content is iterable and content is not mapping -%}
    {%- for item in content -%}
      {%- if item is string -%}{{- item -}}
      {%- elif item is mapping and item.type == 'text' -%}{{- item.text or '' -}}
      {%- endif -%}
    {%- endfor -%}
  {%- else -%}{{- content -}}
  {%- endif -%}
{%- endmacro -%}
{{- '[gMASK]<sop>' -}}
{%- if tools -%}
  {{- '<|system|>' ~ @HEADER@ -}}
  {%- for tool in tools -%}{{- (tool | tojson) ~ '\n' -}}{%- endfor -%}
  {{- @FOOTER@ -}}
{%- endif -%}
{%- set ns = namespace(last_user=-1) -%}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
  {%- set content = visible_text(m.content) -%}
  {%- set closes_turn = not loop.first and messages[loop.index0 - 1].role == 'assistant' -%}
  {%- if m.role == 'system' -%}
    {{- '<|system|>\n' ~ content -}}
  {%- elif m.role == 'user' -%}
    {%- if closes_turn -%}{%- generation -%}{{- '<|user|>' -}}{%- endgeneration -%}
    {%- else -%}{{- '<|user|>' -}}
    {%- endif -%}
    {{- '\n' ~ content -}}
    {%- if not thinking and not content.endswith('/nothink') -%}{{- '/nothink' -}}{%- endif -%}
  {%- elif m.role == 'assistant' -%}
@SPLIT_REASONING@
    {%- set show_reasoning = loop.index0 > ns.last_user and reasoning -%}
    {%- set body = content.strip() -%}
    {{- '<|assistant|>' -}}
    {%- generation -%}
      {#- Served from the prompt `...<|assistant|>`, the model writes this newline itself. -#}
      {{- '\n' -}}
      {%- if show_reasoning -%}{{- '<think>' ~ reasoning.strip() ~ '</think>' -}}
      {%- else -%}{{- '<think></think>' -}}
      {%- endif -%}
      {%- if body and tool_calls -%}{{- '\n' ~ body ~ '\n' -}}
      {%- elif body -%}{{- '\n' ~ body -}}
      {%- endif -%}
      {%- for tc in tool_calls -%}
        {%- set f = tc.function if tc.function is defined and tc.function else tc -%}
        {%- if not body -%}{{- '\n' -}}{%- endif -%}
        {{- '<tool_call>' ~ (f.name if f.name is defined else '') ~ '\n' -}}
        {%- set args = f.arguments if f.arguments is defined else {} -%}
        {%- if args is mapping -%}
          {%- for key, value in args.items() -%}
            {{- '<arg_key>' ~ key ~ '</arg_key>\n<arg_value>' -}}
            {{- (value if value is string else value | tojson) ~ '</arg_value>\n' -}}
          {%- endfor -%}
        {%- endif -%}
        {{- '</tool_call>' -}}
      {%- endfor -%}
    {%- endgeneration -%}
  {%- elif m.role == 'tool' -%}
    {%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}
      {%- if closes_turn -%}{%- generation -%}{{- '<|observation|>' -}}{%- endgeneration -%}
      {%- else -%}{{- '<|observation|>' -}}
      {%- endif -%}
    {%- endif -%}
    {{- '\n<tool_response>\n' ~ content ~ '\n</tool_response>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|assistant|>' -}}
  {%- if not thinking -%}{{- '\n<think></think>' -}}{%- endif -%}
{%- endif -%}
"""

_QWEN3_TEMPLATE = r"""
{%- set thinking = enable_thinking if enable_thinking is defined else true -%}
{%- macro text_of(content) -%}
  {%- if content is string -%}{{- content -}}
  {%- elif content is iterable and content is not mapping and content is not none -%}
    {%- for item in content -%}
      {%- if item is string -%}{{- item -}}
      {%- elif item is mapping and item.text is string -%}{{- item.text -}}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro -%}
{%- set first_is_system = messages and messages[0].role == 'system' -%}
{%- if tools -%}
  {{- '<|im_start|>system\n' -}}
  {%- if first_is_system -%}{{- text_of(messages[0].content) ~ '\n\n' -}}{%- endif -%}
  {{- @HEADER@ -}}
  {%- for tool in tools -%}{{- '\n' ~ (tool | tojson) -}}{%- endfor -%}
  {{- @FOOTER@ ~ '<|im_end|>\n' -}}
{%- elif first_is_system -%}
  {{- '<|im_start|>system\n' ~ text_of(messages[0].content) ~ '<|im_end|>\n' -}}
{%- endif -%}
{%- set ns = namespace(last_query=-1) -%}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}
    {%- set query = text_of(m.content).strip() -%}
    {%- if not (query.startswith('<tool_response>') and query.endswith('</tool_response>')) -%}
      {%- set ns.last_query = loop.index0 -%}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if ns.last_query < 0 -%}{%- set ns.last_query = messages | length - 1 -%}{%- endif -%}
{%- for m in messages -%}
  {#- `loop.last` would make jinja fetch the next message early; an index test does not. -#}
  {%- set is_last = loop.index0 == messages | length - 1 -%}
  {%- set content = text_of(m.content) -%}
  {%- if m.role == 'system' -%}
    {%- if not loop.first -%}{{- '<|im_start|>system\n' ~ content ~ '<|im_end|>\n' -}}{%- endif -%}
  {%- elif m.role == 'user' -%}
    {{- '<|im_start|>user\n' ~ content ~ '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
@SPLIT_REASONING@
    {%- set in_window = loop.index0 > ns.last_query and (is_last or reasoning) -%}
    {%- if in_window or (not thinking and not reasoning) -%}
      {%- set body = '<think>\n' ~ reasoning.strip('\n') ~ '\n</think>\n\n'
                     ~ content.lstrip('\n') -%}
    {%- else -%}
      {%- set body = content -%}
    {%- endif -%}
    {%- set separator = '\n' if content else '' -%}
    {{- '<|im_start|>assistant\n' -}}
    {%- generation -%}
      {%- if not tool_calls -%}{{- body -}}{%- endif -%}
      {%- for tc in tool_calls -%}
        {%- if loop.first -%}{{- body ~ separator -}}{%- else -%}{{- '\n' -}}{%- endif -%}
        {%- set f = tc.function if tc.function is defined and tc.function else tc -%}
        {%- set args = f.arguments if f.arguments is defined else {} -%}
        {{- '<tool_call>\n{"name": "' ~ (f.name if f.name is defined else '')
            ~ '", "arguments": ' -}}
        {{- (args if args is string else args | tojson) ~ '}\n</tool_call>' -}}
      {%- endfor -%}
      {{- '<|im_end|>' -}}
    {%- endgeneration -%}
    {{- '\n' -}}
  {%- elif m.role == 'tool' -%}
    {%- set prev_is_tool = not loop.first and messages[loop.index0 - 1].role == 'tool' -%}
    {%- set next_is_tool = not is_last and messages[loop.index0 + 1].role == 'tool' -%}
    {%- if not prev_is_tool -%}{{- '<|im_start|>user' -}}{%- endif -%}
    {{- '\n<tool_response>\n' ~ content ~ '\n</tool_response>' -}}
    {%- if not next_is_tool -%}{{- '<|im_end|>\n' -}}{%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if not thinking -%}{{- '<think>\n\n</think>\n\n' -}}{%- endif -%}
{%- endif -%}
"""


def _fill(template: str, header: str, footer: str) -> str:
    return (
        template.replace("@SPLIT_REASONING@", _SPLIT_REASONING.strip("\n"))
        .replace("@HEADER@", _literal(header))
        .replace("@FOOTER@", _literal(footer))
        .strip("\n")
    )


GLM45_CHAT_TEMPLATE: str = _fill(_GLM45_TEMPLATE, GLM45_TOOLS_HEADER, GLM45_TOOLS_FOOTER)
"""GLM-4.5-style chat template, token-identical to `renderers`' GLM-4.5 renderer."""

QWEN3_CHAT_TEMPLATE: str = _fill(_QWEN3_TEMPLATE, QWEN3_TOOLS_HEADER, QWEN3_TOOLS_FOOTER)
"""Qwen3/ChatML chat template, token-identical to `renderers`' Qwen3 renderer."""

_GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")


def strip_generation_markers(template: str) -> str:
    """The same template without `{% generation %}` blocks: what most hub templates look like."""
    return _GENERATION_TAG.sub("", template)
