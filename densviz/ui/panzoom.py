"""An SVG viewer with zoom and pan, as one self-contained HTML page.

Streamlit's own graphviz element can neither zoom nor pan, and lays graphs out
in the browser's main thread. Here the SVG comes laid out from ``dot``; a few
lines of script let the mouse wheel zoom about the pointer, dragging pan, and
a double click fit the graph again. Nothing is fetched from the network.
"""

from __future__ import annotations

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
html,body{margin:0;height:100%;overflow:hidden;background:#fff;font-family:Helvetica,Arial,sans-serif}
#view{width:100%;height:100%;cursor:grab;touch-action:none}
#view.dragging{cursor:grabbing}
#view svg{width:100%;height:100%}
#bar{position:absolute;top:6px;right:8px;display:flex;gap:4px}
#bar button{border:1px solid #d1d5db;background:#fff;border-radius:4px;padding:2px 8px;cursor:pointer;font-size:13px}
#hint{position:absolute;bottom:4px;left:8px;font-size:11px;color:#6b7280}
</style></head><body>
<div id="view">__SVG__</div>
<div id="bar"><button id="zin" title="zoom in">+</button><button id="zout" title="zoom out">&minus;</button><button id="fit" title="fit the whole graph">fit</button></div>
<div id="hint">wheel: zoom &middot; drag: pan &middot; double click or "fit": the whole graph</div>
<script>
(function(){
  const view=document.getElementById('view');
  const svg=view.querySelector('svg');
  if(!svg){return;}
  svg.removeAttribute('width');svg.removeAttribute('height');
  const vb0=svg.viewBox.baseVal;
  const home={x:vb0.x,y:vb0.y,w:vb0.width,h:vb0.height};
  // Start at natural size (one SVG point per pixel), top centred, so that labels
  // are readable at once; "fit" shows the whole graph.
  function natural(){
    const r=view.getBoundingClientRect();
    if(home.w<=r.width&&home.h<=r.height){return {...home};}
    const w=Math.min(r.width,Math.max(home.w,r.width)), h=r.height*(w/r.width);
    return {x:home.x+(home.w-w)/2,y:home.y,w:w,h:h};
  }
  let vb=natural();
  function apply(){svg.setAttribute('viewBox',vb.x+' '+vb.y+' '+vb.w+' '+vb.h);}
  function zoom(f,cx,cy){
    const r=svg.getBoundingClientRect();
    const px=vb.x+(cx-r.left)/r.width*vb.w, py=vb.y+(cy-r.top)/r.height*vb.h;
    vb.w*=f;vb.h*=f;vb.x=px-(px-vb.x)*f;vb.y=py-(py-vb.y)*f;apply();
  }
  view.addEventListener('wheel',e=>{e.preventDefault();zoom(e.deltaY>0?1.15:1/1.15,e.clientX,e.clientY);},{passive:false});
  let drag=null;
  view.addEventListener('pointerdown',e=>{drag={x:e.clientX,y:e.clientY,vx:vb.x,vy:vb.y};view.classList.add('dragging');view.setPointerCapture(e.pointerId);});
  view.addEventListener('pointermove',e=>{if(!drag)return;const r=svg.getBoundingClientRect();
    const s=Math.max(vb.w/r.width,vb.h/r.height);vb.x=drag.vx-(e.clientX-drag.x)*s;vb.y=drag.vy-(e.clientY-drag.y)*s;apply();});
  view.addEventListener('pointerup',()=>{drag=null;view.classList.remove('dragging');});
  view.addEventListener('dblclick',()=>{vb={...home};apply();});
  svg.setAttribute('preserveAspectRatio','xMidYMin meet');
  const mid=()=>{const r=svg.getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];};
  document.getElementById('zin').onclick=()=>zoom(1/1.3,...mid());
  document.getElementById('zout').onclick=()=>zoom(1.3,...mid());
  document.getElementById('fit').onclick=()=>{vb={...home};apply();};
  apply();
})();
</script></body></html>
"""


def panzoom_page(svg: str) -> str:
    """An HTML page showing ``svg`` (Graphviz output) with zoom and pan."""
    body = svg[svg.index("<svg") :] if "<svg" in svg else svg  # drop the XML prolog and doctype
    return _PAGE.replace("__SVG__", body)
