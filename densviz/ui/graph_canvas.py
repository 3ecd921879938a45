"""The Graph view's drawing as a Streamlit component: dot's SVG with zoom and pan, clickable, hover cards.

Why a components-v2 component (``st.components.v2.component``, inline HTML,
CSS and JavaScript) and not plotly's selection events over a Graphviz layout:

* The picture stays ``dot``'s own SVG, the same bytes as the download: its
  clusters, HTML labels, edge widths and routing. Redrawing it in plotly would
  mean re-implementing all of that in scatter traces, and plotly selects
  points, not boxes, clusters or edges.
* Selecting a node only changes a few CSS classes on elements that carry the
  module path as their id (:mod:`densviz.draw.render` writes ``id`` and
  ``class`` into the DOT). The layout is never recomputed and the SVG is not
  re-parsed: the script keeps the mounted drawing while its key is unchanged.
* A click comes back to Python as a trigger value (``clicked``), one rerun of
  the Graph view's fragment; zoom, pan and hover stay in the browser.
* Nothing is fetched from the network, and the component lives in the page
  (a shadow root, no iframe), so the page scrolls past it as before.

The zoom and pan are :data:`densviz.ui.panzoom.ENGINE_JS`, the same script as
the offline HTML page. The SVG put into the page is ``dot``'s output for our
own plan (module names, numbers): no user-typed text reaches it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from densviz.draw.graph_select import Highlight
from densviz.ui.panzoom import ENGINE_JS, VIEWER_CSS, toolbar

__all__ = ["CLICKED", "canvas", "clicked"]

CLICKED = "clicked"
"""The trigger a click sends: the id of the node or cluster clicked, or ``""`` for the background."""

_HTML = (
    '<div class="dvz">'
    + toolbar(" &middot; click a node: its numbers", " &middot; tap a node: its numbers")
    + '<div id="view" tabindex="0" role="img" aria-label="the network graph; click a node for its numbers"></div>'
    + "</div>"
)

SELECTED_COLOR = "#7C3AED"  # violet: no block colour is near it (block 4 is red, 1 blue, 3 green)
INPUT_COLOR = "#2563EB"
OUTPUT_COLOR = "#16A34A"

_CSS = (
    """
:host{display:block;height:100%}
.dvz{height:100%;box-sizing:border-box;display:flex;flex-direction:column;background:#fff;
  border:1px solid #e5e7eb;border-radius:6px;overflow:hidden;font-family:Helvetica,Arial,sans-serif}
"""
    + VIEWER_CSS
    + f"""
#view:focus{{outline:none}}
#view g.node{{cursor:pointer}}
#view g.node.elided{{cursor:zoom-in}}
#view g.cluster > text{{cursor:pointer}}
/* With a selection, the rest steps back and what it reads and feeds stands out. */
svg.dvz-focus g.node:not(.dvz-sel):not(.dvz-holder):not(.dvz-in):not(.dvz-out):not(.dvz-member){{opacity:.3}}
svg.dvz-focus g.edge:not(.dvz-edge-in):not(.dvz-edge-out){{opacity:.12}}
g.dvz-sel path,g.dvz-sel polygon,g.dvz-sel ellipse{{stroke:{SELECTED_COLOR};stroke-width:4px}}
g.dvz-holder path,g.dvz-holder polygon,g.dvz-holder ellipse{{stroke:{SELECTED_COLOR};stroke-width:4px;stroke-dasharray:8 4}}
g.cluster.dvz-sel > path,g.cluster.dvz-sel > polygon{{stroke:{SELECTED_COLOR};stroke-width:4px}}
g.node.dvz-in path,g.node.dvz-in polygon,g.node.dvz-in ellipse{{stroke:{INPUT_COLOR};stroke-width:3.5px}}
g.node.dvz-out path,g.node.dvz-out polygon,g.node.dvz-out ellipse{{stroke:{OUTPUT_COLOR};stroke-width:3.5px}}
g.edge.dvz-edge-in path{{stroke:{INPUT_COLOR}}}
g.edge.dvz-edge-in polygon{{stroke:{INPUT_COLOR};fill:{INPUT_COLOR}}}
g.edge.dvz-edge-out path{{stroke:{OUTPUT_COLOR}}}
g.edge.dvz-edge-out polygon{{stroke:{OUTPUT_COLOR};fill:{OUTPUT_COLOR}}}
#tip{{position:absolute;z-index:2;pointer-events:none;max-width:360px;white-space:pre-line;
  background:#111827;color:#f9fafb;font:12px/1.45 Helvetica,Arial,sans-serif;padding:6px 9px;border-radius:5px;
  box-shadow:0 2px 8px rgba(0,0,0,.25)}}
#tip b{{font-weight:600}}
#tip[hidden]{{display:none}}
"""
)

_JS = (
    ENGINE_JS
    + r"""
const XLINK='http://www.w3.org/1999/xlink';
const short=id=>id.split('.').pop();

// dot puts each tooltip on an <a xlink:title> and the id in a <title>: both become
// the browser's own slow tooltip. Keep the text for our card, drop the rest.
function prepare(svg){
  svg.querySelectorAll('g.node, g.edge, g.cluster').forEach(g=>{
    const a=g.querySelector('a');
    const text=a?a.getAttributeNS(XLINK,'title'):null;
    if(a){a.removeAttributeNS(XLINK,'title');}
    if(g.classList.contains('edge')){
      const ends=g.id.split('->');
      g.dataset.tip=(text||'')+(ends.length===2?' · '+short(ends[0])+' → '+short(ends[1]):'');
    }else if(text){g.dataset.tip=text;}
    const title=g.querySelector(':scope > title');
    if(title){title.remove();}
  });
}

function showTip(st,e){
  const tip=st.tip, view=st.view;
  const g=(e.pointerType==='mouse'&&!e.buttons&&e.target.closest)?e.target.closest('g.node, g.edge'):null;
  if(!g||!g.dataset.tip){tip.hidden=true;return;}
  const lines=g.dataset.tip.split('\n');
  tip.textContent='';
  const head=document.createElement('b');head.textContent=lines[0];tip.appendChild(head);
  if(lines.length>1){tip.appendChild(document.createTextNode('\n'+lines.slice(1).join('\n')));}
  tip.hidden=false;
  const r=view.getBoundingClientRect(), w=tip.offsetWidth, h=tip.offsetHeight;
  let x=e.clientX-r.left+14, y=e.clientY-r.top+16;
  if(x+w>r.width-4){x=Math.max(4,e.clientX-r.left-w-14);}
  if(y+h>r.height-4){y=Math.max(4,e.clientY-r.top-h-16);}
  tip.style.left=x+'px';tip.style.top=y+'px';
}

function tapped(st,target){
  if(!target||!target.closest){return;}
  if(target.closest('g.edge')){return;}
  const g=target.closest('g.node, g.cluster');
  st.send('clicked', g?g.id:'');
}

function mark(st,d){
  st.marked.forEach(([el,c])=>el.classList.remove(c));
  st.marked=[];
  const svg=st.view.querySelector('svg');
  if(!svg){return;}
  const add=(id,c)=>{const el=id?svg.getElementById(id):null;if(el){el.classList.add(c);st.marked.push([el,c]);}};
  svg.classList.toggle('dvz-focus',!!d.selected);
  add(d.selected,d.exact?'dvz-sel':'dvz-holder');
  d.inputs.forEach(i=>add(i,'dvz-in'));
  d.outputs.forEach(o=>add(o,'dvz-out'));
  d.edges_in.forEach(e=>add(e,'dvz-edge-in'));
  d.edges_out.forEach(e=>add(e,'dvz-edge-out'));
  d.members.forEach(m=>add(m,'dvz-member'));
}

export default function(component){
  const {data,parentElement,setTriggerValue}=component;
  const root=parentElement.querySelector('.dvz');
  if(!root){return;}
  // This function runs again on every rerun with new data, on the same elements:
  // what must survive (the drawing, its zoom, the listeners) lives on the root.
  let st=root.__densviz;
  if(!st){
    const view=root.querySelector('#view');
    const tip=document.createElement('div');
    tip.id='tip';tip.setAttribute('role','tooltip');tip.hidden=true;
    st=root.__densviz={key:null,engine:null,centred:0,marked:[],view,tip,send:null};
    view.addEventListener('pointermove',e=>showTip(st,e));
    view.addEventListener('pointerleave',()=>{tip.hidden=true;});
    view.addEventListener('pointerdown',()=>{tip.hidden=true;view.focus({preventScroll:true});});
  }
  st.send=setTriggerValue;
  // A definite height: without one the drawing grows to its own aspect ratio (the host's is not definite).
  root.style.height=data.height+'px';
  // Streamlit may call this again with the same data (another element of the page changed).
  const sig=[data.key,data.selected,data.centre].join('|');
  if(sig!==st.sig){st.sig=sig;st.tip.hidden=true;}  // what the card described may have moved
  if(data.key!==st.key){
    if(st.engine){st.engine.destroy();}
    st.view.innerHTML=data.svg;  // dot's SVG of our own plan: no user text in it
    const svg=st.view.querySelector('svg');
    if(svg){prepare(svg);}
    st.view.appendChild(st.tip);
    st.engine=densvizPanZoom(st.view,{root,keys:st.view,gestures:st.view,onTap:t=>tapped(st,t)});
    st.key=data.key;st.marked=[];st.centred=0;
  }
  mark(st,data);
  if(data.centre&&data.centre!==st.centred&&data.selected){
    st.centred=data.centre;
    const svg=st.view.querySelector('svg');
    const el=svg?svg.getElementById(data.selected):null;
    if(el){st.engine.centre(el);}
  }
}
"""
)

_COMPONENT = st.components.v2.component("densviz_graph", html=_HTML, css=_CSS, js=_JS)


def _body(svg: str) -> str:
    return svg[svg.index("<svg") :] if "<svg" in svg else svg  # no XML prolog or doctype inside a page


def canvas(
    svg: str,
    marks: Highlight,
    centre: int,
    *,
    key: str,
    height: int,
    on_click: Callable[[], None],
) -> None:
    """Mount the drawing with the selection marked.

    Args:
        svg: ``dot``'s SVG (ids and classes from :func:`densviz.draw.render.to_dot`).
        marks: What to mark.
        centre: Centre the view on the selection when this number changes (0: never).
        key: The component's session key (its ``clicked`` trigger is read there).
        height: Pixels.
        on_click: Called (before the rerun) when a node, a cluster or the background is clicked.
    """
    body = _body(svg)
    data = {
        "svg": body,
        # The browser keeps the mounted drawing, and its zoom, while this stays the same.
        "key": hashlib.blake2b(body.encode(), digest_size=12).hexdigest(),
        "selected": marks.selected,
        "exact": marks.exact,
        "inputs": list(marks.inputs),
        "outputs": list(marks.outputs),
        "edges_in": list(marks.edges_in),
        "edges_out": list(marks.edges_out),
        "members": list(marks.members),
        "centre": centre,
        "height": height,
    }
    _COMPONENT(key=key, data=data, height=height, on_clicked_change=on_click)


def clicked(key: str) -> str | None:
    """What the last click sent (an id, or ``""`` for the background), or ``None``."""
    value: Any = st.session_state.get(key)
    got = value.get(CLICKED) if isinstance(value, Mapping) else getattr(value, CLICKED, None)
    return got if isinstance(got, str) else None
