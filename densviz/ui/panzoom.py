"""An SVG viewer with zoom and pan: one script for a self-contained HTML page and for the Graph view's component.

Streamlit's own graphviz element can neither zoom nor pan, and lays graphs out
in the browser's main thread. Here the SVG comes laid out from ``dot``; a few
lines of script make it behave like a map embedded in a page:

* the plain wheel and one-finger vertical swipes scroll the *page*, never the
  graph (the frame must not trap a reader scrolling past it);
* Ctrl or ⌘ with the wheel (and a trackpad pinch, which browsers send as
  ctrl + wheel) zooms about the pointer, as do the + and − buttons and a
  two-finger pinch on a touch screen;
* dragging pans (with one finger: sideways drags, vertical ones scroll the page);
* "fit" and a double click show the whole graph; nothing forces it.

The graph opens at one SVG point per pixel on its input: a left-to-right
drawing (wider than tall) at its left end, centred vertically; a top-to-bottom
one at its top, centred horizontally. A graph that fits is shown whole.

The buttons and the hint sit in a toolbar row of their own above the drawing,
so they never cover a label. Nothing is fetched from the network.

:data:`ENGINE_JS` is the viewer as one function, ``densvizPanZoom(view, opts)``:
:func:`panzoom_page` calls it on a whole page (an ``<iframe>``), and
:mod:`densviz.ui.graph_canvas` on the Graph view's component, which adds
clicks (a press and release that did not move) and centring on a node.
"""

from __future__ import annotations

VIEWER_CSS = """
#bar{flex:none;display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px;padding:4px 8px;
  background:#f9fafb;border-bottom:1px solid #e5e7eb}
#bar button{border:1px solid #d1d5db;background:#fff;border-radius:4px;padding:2px 10px;min-width:30px;
  cursor:pointer;font:13px/18px Helvetica,Arial,sans-serif;color:#111827}
#bar button:hover{background:#f3f4f6}
#hint{font-size:12px;color:#6b7280;margin-left:6px;transition:color .2s}
#hint.nudge{color:#111827}
#hint .touch{display:none}
@media (hover:none) and (pointer:coarse){#hint .mouse{display:none}#hint .touch{display:inline}}
#view{flex:1 1 auto;min-height:0;position:relative;overflow:hidden;cursor:grab;touch-action:pan-y;
  user-select:none;-webkit-user-select:none}
#view.dragging{cursor:grabbing}
#view svg{display:block;width:100%;height:100%}
"""
"""The toolbar's and the drawing area's style (the element ids of :func:`toolbar`)."""

_MOUSE_HINT = "Ctrl + wheel or +/&minus;: zoom &middot; drag: pan &middot; fit: the whole graph"
_TOUCH_HINT = "pinch or +/&minus;: zoom &middot; drag sideways: pan &middot; fit: the whole graph"


def toolbar(mouse_extra: str = "", touch_extra: str = "") -> str:
    """The toolbar: zoom in, zoom out, fit, and a hint for mouse and for touch (each extra appended to its own)."""
    return (
        '<div id="bar" role="toolbar" aria-label="zoom">\n'
        '<button type="button" id="zin" title="zoom in" aria-label="zoom in">+</button>\n'
        '<button type="button" id="zout" title="zoom out" aria-label="zoom out">&minus;</button>\n'
        '<button type="button" id="fit" title="fit the whole graph" aria-label="fit the whole graph">fit</button>\n'
        f'<span id="hint"><span class="mouse">{_MOUSE_HINT}{mouse_extra}</span>'
        f'<span class="touch">{_TOUCH_HINT}{touch_extra}</span></span>\n'
        "</div>"
    )


ENGINE_JS = """
// Zoom and pan for the SVG inside `view`. opts.root holds the toolbar (#zin, #zout,
// #fit, #hint); opts.keys receives + - 0; opts.gestures Safari's pinch events;
// opts.onTap(target) hears a press and release that did not move (a click or tap).
// Returns {centre(el), fit(), destroy()}.
function densvizPanZoom(view, opts){
  const root=opts.root, keys=opts.keys, gestures=opts.gestures, onTap=opts.onTap||null;
  const svg=view.querySelector('svg');
  if(!svg){return {centre(){},fit(){},destroy(){}};}
  const b=svg.viewBox.baseVal;
  const home=(b&&b.width>0&&b.height>0)?{x:b.x,y:b.y,w:b.width,h:b.height}
    :{x:0,y:0,w:parseFloat(svg.getAttribute('width'))||1,h:parseFloat(svg.getAttribute('height'))||1};
  svg.removeAttribute('width');svg.removeAttribute('height');
  svg.setAttribute('preserveAspectRatio','xMidYMid meet');
  // dot's left-to-right layouts are wide and short: their input is the left end.
  const wide=home.w>home.h;
  // The view box always has the view's aspect ratio, so one scale s (SVG points
  // per pixel) maps the drawing area onto it.
  let size={w:0,h:0}, vb=null, touched=false, pending=null;
  const fitScale=()=>Math.max(home.w/size.w,home.h/size.h);
  const minScale=()=>1/8, maxScale=()=>Math.max(2*fitScale(),1);
  function around(s,cx,cy){return {x:cx-size.w*s/2,y:cy-size.h*s/2,w:size.w*s,h:size.h*s};}
  function opening(){
    // One point per pixel; a graph that fits is shown whole (at most twice its size).
    const f=fitScale(), s=f<=1?Math.max(f,0.5):1;
    const v=around(s,home.x+home.w/2,home.y+home.h/2);
    if(wide&&home.w>v.w){v.x=home.x;}
    if(!wide&&home.h>v.h){v.y=home.y;}
    return v;
  }
  function fitted(){const f=fitScale();return around(f,home.x+home.w/2,home.y+home.h/2);}
  function apply(){
    // Keep some of the graph in sight however far it is dragged.
    const mx=Math.min(vb.w,home.w)*0.2, my=Math.min(vb.h,home.h)*0.2;
    vb.x=Math.min(Math.max(vb.x,home.x-vb.w+mx),home.x+home.w-mx);
    vb.y=Math.min(Math.max(vb.y,home.y-vb.h+my),home.y+home.h-my);
    svg.setAttribute('viewBox',vb.x+' '+vb.y+' '+vb.w+' '+vb.h);
  }
  // Centre the view on an element of the drawing, at one point per pixel or closer.
  function centre(el){
    if(!vb){pending=el;return;}
    const r=view.getBoundingClientRect(), e=el.getBoundingClientRect(), s=vb.w/size.w;
    const cx=vb.x+(e.left+e.width/2-r.left)*s, cy=vb.y+(e.top+e.height/2-r.top)*s;
    touched=true;vb=around(Math.min(s,1),cx,cy);apply();
  }
  function measure(){
    const r=view.getBoundingClientRect();
    if(r.width<1||r.height<1){return;}
    if(!vb||!touched){
      size={w:r.width,h:r.height};vb=opening();apply();
      if(pending){const el=pending;pending=null;centre(el);}
      return;
    }
    // Resized after the reader moved: keep the scale and the centre.
    const s=vb.w/size.w, cx=vb.x+vb.w/2, cy=vb.y+vb.h/2;
    size={w:r.width,h:r.height};vb=around(s,cx,cy);apply();
  }
  // Scale by f about the client point (cx, cy).
  function zoom(f,cx,cy){
    if(!vb){return;}
    touched=true;
    const r=view.getBoundingClientRect(), s=vb.w/size.w;
    const s1=Math.min(Math.max(s*f,minScale()),maxScale());
    const px=vb.x+(cx-r.left)*s, py=vb.y+(cy-r.top)*s;
    vb={x:px-(cx-r.left)*s1,y:py-(cy-r.top)*s1,w:size.w*s1,h:size.h*s1};apply();
  }
  function fit(){if(vb){touched=true;vb=fitted();apply();}}
  const mid=()=>{const r=view.getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];};
  const off=[];
  function on(target,type,fn,o){target.addEventListener(type,fn,o);off.push(()=>target.removeEventListener(type,fn,o));}

  // The wheel: plain, it scrolls the page (not prevented); with Ctrl or Cmd, it zooms.
  const hint=root.querySelector('#hint');
  let nudged=0;
  on(view,'wheel',e=>{
    if(!(e.ctrlKey||e.metaKey)){
      if(hint){hint.classList.add('nudge');clearTimeout(nudged);
        nudged=setTimeout(()=>hint.classList.remove('nudge'),1200);}
      return;
    }
    e.preventDefault();
    const unit=e.deltaMode===1?16:e.deltaMode===2?size.h:1;
    const d=Math.max(-400,Math.min(400,e.deltaY*unit));
    zoom(Math.exp(d*0.002),e.clientX,e.clientY);
  },{passive:false});
  // Safari sends a trackpad pinch as gesture events instead.
  let gesture=null;
  const pts=new Map();
  on(gestures,'gesturestart',e=>{if(pts.size){return;}e.preventDefault();gesture=e.scale||1;});
  on(gestures,'gesturechange',e=>{if(gesture===null||pts.size){return;}e.preventDefault();
    zoom(gesture/(e.scale||1),e.clientX||mid()[0],e.clientY||mid()[1]);gesture=e.scale||1;});
  on(gestures,'gestureend',()=>{gesture=null;});

  // Pointers: one drags the drawing, two pinch. A one-finger vertical swipe never
  // gets here (touch-action: pan-y hands it to the browser, which scrolls the page).
  let drag=null, pinch=null, touching=false, tap=null;
  function two(){const p=[...pts.values()];
    return {d:Math.hypot(p[0].x-p[1].x,p[0].y-p[1].y)||1,x:(p[0].x+p[1].x)/2,y:(p[0].y+p[1].y)/2};}
  function begin(){
    drag=null;pinch=null;
    if(!vb){return;}
    if(pts.size===1){const p=[...pts.values()][0];drag={x:p.x,y:p.y,vx:vb.x,vy:vb.y,touch:touching};}
    else if(pts.size>=2){const t=two();pinch={...t,vb:{...vb}};}
    view.classList.toggle('dragging',pts.size>0);
  }
  on(view,'pointerdown',e=>{
    if(e.pointerType==='mouse'&&e.button!==0){return;}
    touching=e.pointerType==='touch';
    // A tap is one pointer pressed and released where it went down (the target is
    // read now: with the pointer captured, later events name the view).
    tap=pts.size===0?{target:e.target,x:e.clientX,y:e.clientY}:null;
    pts.set(e.pointerId,{x:e.clientX,y:e.clientY});
    try{view.setPointerCapture(e.pointerId);}catch(_){}
    begin();
  });
  on(view,'pointermove',e=>{
    if(!pts.has(e.pointerId)||!vb){return;}
    pts.set(e.pointerId,{x:e.clientX,y:e.clientY});
    if(tap&&Math.hypot(e.clientX-tap.x,e.clientY-tap.y)>4){tap=null;}
    const s=vb.w/size.w;
    if(drag){
      if(e.clientX===drag.x&&e.clientY===drag.y){return;}
      // One finger pans sideways only: up and down belong to the page.
      touched=true;vb.x=drag.vx-(e.clientX-drag.x)*s;
      if(!drag.touch){vb.y=drag.vy-(e.clientY-drag.y)*s;}
      apply();
    }else if(pinch){
      touched=true;
      const t=two(), r=view.getBoundingClientRect(), s0=pinch.vb.w/size.w;
      const s1=Math.min(Math.max(s0*pinch.d/t.d,minScale()),maxScale());
      const px=pinch.vb.x+(pinch.x-r.left)*s0, py=pinch.vb.y+(pinch.y-r.top)*s0;
      vb={x:px-(t.x-r.left)*s1,y:py-(t.y-r.top)*s1,w:size.w*s1,h:size.h*s1};apply();
    }
  });
  const up=e=>{if(pts.delete(e.pointerId)){begin();}};
  on(view,'pointerup',e=>{
    const t=tap;tap=null;
    up(e);
    if(t&&onTap&&pts.size===0){onTap(t.target);}
  });
  // The browser took the gesture (a vertical swipe scrolls the page): undo what it moved.
  on(view,'pointercancel',e=>{
    tap=null;
    if(drag&&pts.size===1&&pts.has(e.pointerId)){vb.x=drag.vx;vb.y=drag.vy;apply();}
    up(e);
  });
  on(view,'dblclick',fit);

  const button=(id,fn)=>{const el=root.querySelector('#'+id);if(el){on(el,'click',fn);}};
  button('zin',()=>zoom(1/1.3,...mid()));
  button('zout',()=>zoom(1.3,...mid()));
  button('fit',fit);
  on(keys,'keydown',e=>{
    if(e.ctrlKey||e.metaKey||e.altKey){return;}
    if(e.key==='+'||e.key==='='){zoom(1/1.3,...mid());}
    else if(e.key==='-'||e.key==='_'){zoom(1.3,...mid());}
    else if(e.key==='0'){fit();}
  });
  let observer=null;
  if(window.ResizeObserver){observer=new ResizeObserver(measure);observer.observe(view);}
  on(window,'resize',measure);
  measure();
  return {centre,fit,destroy(){off.forEach(f=>f());if(observer){observer.disconnect();}}};
}
"""
"""The viewer as one JavaScript function, ``densvizPanZoom(view, opts)``."""

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
html,body{margin:0;height:100%;overflow:hidden;background:#fff;font-family:Helvetica,Arial,sans-serif}
body{display:flex;flex-direction:column}
__CSS__</style></head><body>
__BAR__
<div id="view">__SVG__</div>
<script>
__ENGINE__
densvizPanZoom(document.getElementById('view'),{root:document,keys:document,gestures:window});
</script></body></html>
"""


def panzoom_page(svg: str) -> str:
    """An HTML page showing ``svg`` (Graphviz output) with zoom and pan.

    The page is self-contained: no fonts, scripts or styles from the network.
    """
    body = svg[svg.index("<svg") :] if "<svg" in svg else svg  # drop the XML prolog and doctype
    page = _PAGE.replace("__CSS__", VIEWER_CSS.lstrip()).replace("__BAR__", toolbar()).replace("__ENGINE__", ENGINE_JS)
    return page.replace("__SVG__", body)  # last: the drawing's own text is never searched for placeholders
